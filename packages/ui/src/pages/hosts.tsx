// Hosts: CPU, memory, disk and network of every machine with node_exporter's metrics (Patrol's
// own host collector and scraped node_exporter targets), by PromQL over the query API: the
// current figures per host and the last hour's CPU and memory as graphs. Each figure links to
// its query on the explore page.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { Chart } from '../chart';
import { ErrorBox, Loading } from '../components';
import { fmtPct, t } from '../i18n';
import { columns, instant, range, type QueryData } from '../promql';

const FS = 'fstype!~"tmpfs|ramfs|devtmpfs|overlay|squashfs|nsfs|proc|sysfs|autofs"';
export const HOST_QUERIES = {
  hosts: 'count by (instance, job) (node_cpu_seconds_total{mode="idle"})',
  cpu: '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[1m]))',
  memory: 'max by (instance) (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)',
  disk: `max by (instance) (1 - node_filesystem_avail_bytes{${FS}} / node_filesystem_size_bytes{${FS}})`,
  rx: 'sum by (instance) (rate(node_network_receive_bytes_total{device!="lo"}[1m]))',
  tx: 'sum by (instance) (rate(node_network_transmit_bytes_total{device!="lo"}[1m]))',
};
type Metric = Exclude<keyof typeof HOST_QUERIES, 'hosts'>;
const METRICS: Metric[] = ['cpu', 'memory', 'disk', 'rx', 'tx'];

function byInstance(d: QueryData | undefined): Map<string, number> {
  const m = new Map<string, number>();
  if (d && d.resultType === 'vector') for (const s of d.result) if (s.value) m.set(s.metric.instance ?? '', Number(s.value[1]));
  return m;
}

function fmtRate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const units = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function pct(cols: ReturnType<typeof columns>): ReturnType<typeof columns> {
  return { ...cols, series: cols.series.map((s) => ({ ...s, values: s.values.map((v) => (v === null ? null : v * 100)) })) };
}

const explore = (q: string) => `/explore?q=${encodeURIComponent(q)}&range=1h`;

export function HostsPage() {
  const [now, setNow] = useState<{ data?: Record<string, QueryData>; error?: string }>({});
  const [graphs, setGraphs] = useState<{ cpu?: QueryData; memory?: QueryData }>({});
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    const keys = Object.keys(HOST_QUERIES) as (keyof typeof HOST_QUERIES)[];
    Promise.all(keys.map((k) => instant(HOST_QUERIES[k])))
      .then((rs) => live && setNow({ data: Object.fromEntries(keys.map((k, i) => [k, rs[i]])) }))
      .catch((e: Error) => live && setNow({ error: e.message }));
    const end = Date.now();
    Promise.all([range(HOST_QUERIES.cpu, end - 3600_000, end), range(HOST_QUERIES.memory, end - 3600_000, end)])
      .then(([cpu, memory]) => live && setGraphs({ cpu, memory }))
      .catch(() => {
        // the figures' error box says it
      });
    const timer = setTimeout(() => setN((x) => x + 1), 15_000);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [n]);
  const hosts = useMemo(() => {
    const d = now.data?.hosts;
    if (!d || d.resultType !== 'vector') return [];
    return d.result.map((s) => ({ instance: s.metric.instance ?? '', job: s.metric.job ?? '', cores: Number(s.value?.[1] ?? 0) })).sort((a, b) => a.instance.localeCompare(b.instance));
  }, [now.data]);
  const vals = useMemo(() => Object.fromEntries(METRICS.map((m) => [m, byInstance(now.data?.[m])])) as Record<Metric, Map<string, number>>, [now.data]);
  const cpuCols = useMemo(() => pct(columns(graphs.cpu, (m) => m.instance ?? '')), [graphs.cpu]);
  const memCols = useMemo(() => pct(columns(graphs.memory, (m) => m.instance ?? '')), [graphs.memory]);
  return (
    <main class="page">
      <h1>{t('hosts')}</h1>
      {now.error && <ErrorBox error={now.error} retry={() => setN((x) => x + 1)} />}
      {!now.data && !now.error && <Loading />}
      {now.data && hosts.length === 0 && <p class="msg">{t('noHosts')}</p>}
      {hosts.length > 0 && (
        <section class="card scroll-x">
          <table class="tbl" data-testid="hosts">
            <thead>
              <tr>
                <th>{t('host')}</th>
                <th>{t('cpu')}</th>
                <th>{t('memory')}</th>
                <th>{t('disk')}</th>
                <th>{t('netRx')}</th>
                <th>{t('netTx')}</th>
              </tr>
            </thead>
            <tbody>
              {hosts.map((h) => (
                <tr data-host={h.instance}>
                  <td>
                    <b>{h.instance}</b> <small class="muted">{h.job} · {h.cores} {t('cores')}</small>
                  </td>
                  {METRICS.map((m) => {
                    const v = vals[m].get(h.instance);
                    return (
                      <td class="nowrap" data-metric={m}>
                        <a href={explore(HOST_QUERIES[m])}>
                          {m === 'rx' || m === 'tx' ? fmtRate(v) : fmtPct(v)}
                        </a>
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {hosts.length > 0 && (
        <div class="grid2">
          <section class="card">
            <h2>{t('cpu')} (1 h)</h2>
            {cpuCols.series.length > 0 ? <Chart x={cpuCols.x} series={cpuCols.series} unit="%" /> : <p class="muted">{t('noData')}</p>}
          </section>
          <section class="card">
            <h2>{t('memory')} (1 h)</h2>
            {memCols.series.length > 0 ? <Chart x={memCols.x} series={memCols.series} unit="%" /> : <p class="muted">{t('noData')}</p>}
          </section>
        </div>
      )}
    </main>
  );
}
