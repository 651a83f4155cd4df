// Small pieces shared by the pages.

import { fmtPct, t, type Key } from './i18n';

/** An API error shown in the page. */
export function ErrorBox({ error, retry }: { error: string; retry?: () => void }) {
  return (
    <div class="error" role="alert">
      <strong>{t('error')}:</strong> {error}{' '}
      {retry && (
        <button type="button" onClick={retry}>
          {t('retry')}
        </button>
      )}
    </div>
  );
}

export function StateBadge({ state }: { state: 'up' | 'down' | 'unknown' | 'degraded' | 'silenced' }) {
  return <span class={`badge s-${state}`}>{t(state as Key)}</span>;
}

/** Latency of the recent runs as an SVG line. */
export function Sparkline({ values, width = 100, height = 22 }: { values: number[]; width?: number; height?: number }) {
  if (values.length < 2) return <svg class="spark" width={width} height={height} aria-hidden="true" />;
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (max <= 0) max = 1;
  const step = width / (values.length - 1);
  let d = '';
  for (let i = 0; i < values.length; i++) d += `${i ? 'L' : 'M'}${(i * step).toFixed(1)} ${(height - 2 - (values[i] / max) * (height - 4)).toFixed(1)}`;
  return (
    <svg class="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} aria-hidden="true">
      <path d={d} />
    </svg>
  );
}

/**
 * One cell per hour (or per UTC day from `firstDay`, with its date and ratio as a tooltip), oldest
 * first: green all good, amber some failures, red mostly failing, grey no data.
 */
export function UptimeBar({ hours, firstDay }: { hours: number[]; firstDay?: number }) {
  return (
    <span class={firstDay === undefined ? 'ubar' : `ubar days${hours.length > 45 ? ' d90' : ''}`} aria-hidden="true">
      {hours.map((h, i) => (
        <i class={h < 0 ? 'n' : h >= 0.999 ? 'g' : h >= 0.9 ? 'a' : 'r'} title={firstDay === undefined ? undefined : `${new Date(firstDay + i * 86_400_000).toISOString().slice(0, 10)} ${h < 0 ? '—' : fmtPct(h)}`} />
      ))}
    </span>
  );
}

export function Loading() {
  return <p class="msg">{t('loading')}</p>;
}
