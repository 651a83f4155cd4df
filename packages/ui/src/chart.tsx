// A time series chart on uPlot, loaded only when a page draws one (it stays out of the first
// load). x: unix seconds; each series one line.

import { useEffect, useRef } from 'preact/hooks';

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
}

export function Chart({ x, series, height = 220, unit = 'ms' }: { x: number[]; series: Series[]; height?: number; unit?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    let plot: { destroy(): void; setSize(s: { width: number; height: number }): void } | null = null;
    let dead = false;
    let ro: ResizeObserver | null = null;
    void Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([m]) => {
      if (dead) return;
      const UPlot = m.default;
      const opts = {
        width: el.clientWidth || 600,
        height,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 1.5, spanGaps: false, value: (_u: unknown, v: number | null) => (v === null ? '—' : `${v.toFixed(1)} ${unit}`) }))],
        axes: [{ stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.15)' } }, { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.15)' }, values: (_u: unknown, vs: number[]) => vs.map((v) => `${v} ${unit}`), size: 70 }],
        scales: { x: { time: true } },
        legend: { live: true },
      };
      plot = new UPlot(opts, [x, ...series.map((s) => s.values)] as never, el);
      ro = new ResizeObserver(() => plot?.setSize({ width: el.clientWidth, height }));
      ro.observe(el);
    });
    return () => {
      dead = true;
      ro?.disconnect();
      plot?.destroy();
    };
  }, [x, series, height, unit]);
  return <div class="chart" ref={ref} />;
}
