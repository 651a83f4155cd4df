// One probe: state, target, labels, latency over 24 h (and per HTTP phase from the Prometheus
// API), percentiles, state changes with reasons, the last failure and the certificate expiry.

import { useMemo, useState } from 'preact/hooks';
import { request, useAcks, useApi } from '../api';
import { Chart, type Series } from '../chart';
import { ErrorBox, Loading, StateBadge } from '../components';
import { fmtMs, fmtPct, fmtSpan, fmtTime, t } from '../i18n';

interface ProbeStatus {
  name: string;
  type: string;
  target: string;
  labels: Record<string, string>;
  interval_seconds: number;
  state: 'up' | 'down' | 'unknown';
  since: number | null;
  consecutive_failures: number;
  last_result: { time: number; success: boolean; duration_seconds: number; reason: string; status_code?: number } | null;
  reason: string;
  uptime: Record<'24h' | '7d' | '30d', number | null>;
  latency: Record<'p50' | 'p95' | 'p99', number | null>;
}

interface HistoryPoint {
  time: number;
  success: boolean;
  duration_seconds: number | null;
  status_code?: number;
  reason?: string;
}

interface ProbeEvent {
  time: number;
  from: string;
  to: string;
  reason: string;
}

interface Matrix {
  resultType: string;
  result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[];
}

const PHASE_COLORS: Record<string, string> = { resolve: '#8b5cf6', connect: '#0ea5e9', tls: '#f59e0b', processing: '#10b981', transfer: '#ef4444' };

function promString(s: string): string {
  return JSON.stringify(s);
}

export function ProbePage({ name }: { name: string }) {
  const enc = encodeURIComponent(name);
  const status = useApi<ProbeStatus>(`/api/patrol/v1/probes/${enc}`, 5000);
  const acks = useAcks();
  const hist = useApi<HistoryPoint[]>(`/api/patrol/v1/probes/${enc}/history?limit=3000`, 30000);
  const events = useApi<ProbeEvent[]>(`/api/patrol/v1/probes/${enc}/events?limit=50`, 15000);
  const [start, end] = useMemo(() => {
    const e = Math.floor(Date.now() / 1000);
    return [e - 86400, e];
  }, []);
  const sel = `{probe=${promString(name)}}`;
  const phases = useApi<Matrix>(`/api/v1/query_range?query=${encodeURIComponent(`probe_http_duration_seconds${sel}`)}&start=${start}&end=${end}&step=300`);
  const cert = useApi<Matrix>(`/api/v1/query?query=${encodeURIComponent(`probe_ssl_earliest_cert_expiry${sel}`)}`);

  const latency = useMemo(() => {
    const pts = hist.data ?? [];
    const x = pts.map((p) => p.time / 1000);
    const series: Series[] = [{ label: t('latency'), color: '#2563eb', values: pts.map((p) => (p.duration_seconds === null ? null : p.duration_seconds * 1000)) }];
    return { x, series };
  }, [hist.data]);

  const phaseChart = useMemo(() => {
    const res = phases.data?.result ?? [];
    if (res.length === 0) return null;
    const xs = new Set<number>();
    for (const r of res) for (const [ts] of r.values ?? []) xs.add(ts);
    const x = [...xs].sort((a, b) => a - b);
    const idx = new Map(x.map((v, i) => [v, i]));
    const series: Series[] = res.map((r) => {
      const values: (number | null)[] = new Array(x.length).fill(null);
      for (const [ts, v] of r.values ?? []) values[idx.get(ts)!] = Number(v) * 1000;
      const ph = r.metric.phase ?? '?';
      return { label: ph, color: PHASE_COLORS[ph] ?? '#888', values };
    });
    return { x, series };
  }, [phases.data]);

  const [running, setRunning] = useState(false);
  const [runErr, setRunErr] = useState<string | null>(null);
  const runNow = async () => {
    setRunning(true);
    try {
      await request(`/api/patrol/v1/probes/${enc}/run`, { method: 'POST' });
      setRunErr(null);
      status.reload();
      hist.reload();
      events.reload();
    } catch (e) {
      setRunErr((e as Error).message);
    }
    setRunning(false);
  };
  const lastFailed = useMemo(() => [...(hist.data ?? [])].reverse().find((p) => !p.success), [hist.data]);
  const s = status.data;
  if (status.error && !s) return <main class="page"><ErrorBox error={status.error} retry={status.reload} /><a href="/">{t('back')}</a></main>;
  if (!s) return <main class="page"><Loading /></main>;
  const shown = s.state === 'up' && s.consecutive_failures > 0 ? 'degraded' : s.state;
  const certV = cert.data?.result?.[0]?.value;
  const certMs = certV ? Number(certV[1]) * 1000 : null;
  const now = Date.now();
  return (
    <main class="page probe">
      <p>
        <a href="/">← {t('overview')}</a>
      </p>
      <h1>
        <StateBadge state={shown} /> {s.name}
        {shown !== 'up' && acks.get(s.name) && (
          <span class="badge s-ack" data-testid="probe-acked" title={fmtTime(acks.get(s.name)?.at)}>
            {t('ackedBy')} {acks.get(s.name)?.by}
          </span>
        )}
        <button type="button" onClick={() => void runNow()} disabled={running} data-testid="run-now">
          {running ? t('running') : t('runNow')}
        </button>
      </h1>
      {status.error && <ErrorBox error={status.error} />}
      {runErr && <ErrorBox error={runErr} />}
      <dl class="facts">
        <dt>{t('target')}</dt>
        <dd>{s.target}</dd>
        <dt>{t('type')}</dt>
        <dd>{s.type}</dd>
        <dt>{t('since')}</dt>
        <dd>{s.since ? `${fmtTime(s.since)} (${fmtSpan(now - s.since)})` : '—'}</dd>
        <dt>{t('interval')}</dt>
        <dd>{s.interval_seconds}s</dd>
        <dt>{t('lastRun')}</dt>
        <dd>{s.last_result ? `${fmtTime(s.last_result.time)} · ${fmtMs(s.last_result.duration_seconds * 1000)}${s.last_result.status_code ? ` · HTTP ${s.last_result.status_code}` : ''}` : t('never')}</dd>
        <dt>Uptime</dt>
        <dd>
          24h {fmtPct(s.uptime['24h'])} · 7d {fmtPct(s.uptime['7d'])} · 30d {fmtPct(s.uptime['30d'])}
        </dd>
        <dt>{t('percentiles')}</dt>
        <dd>
          p50 {fmtMs(s.latency.p50 === null ? null : s.latency.p50 * 1000)} · p95 {fmtMs(s.latency.p95 === null ? null : s.latency.p95 * 1000)} · p99 {fmtMs(s.latency.p99 === null ? null : s.latency.p99 * 1000)}
        </dd>
        {certMs !== null && (
          <>
            <dt>{t('certExpiry')}</dt>
            <dd class={certMs - now < 14 * 86400_000 ? 'warn' : ''}>
              {fmtTime(certMs)} ({fmtSpan(certMs - now)})
            </dd>
          </>
        )}
        {Object.keys(s.labels).length > 0 && (
          <>
            <dt>{t('labels')}</dt>
            <dd>
              {Object.entries(s.labels).map(([k, v]) => (
                <span class="label">
                  {k}={v}
                </span>
              ))}
            </dd>
          </>
        )}
      </dl>
      {lastFailed && (
        <section class="card fail" data-testid="last-failure">
          <h2>{t('lastFailure')}</h2>
          <p>
            {fmtTime(lastFailed.time)}
            {lastFailed.status_code ? ` · ${t('statusCode')} ${lastFailed.status_code}` : ''}
          </p>
          <pre>{lastFailed.reason ?? ''}</pre>
        </section>
      )}
      <section class="card">
        <h2>{t('latencyOverTime')}</h2>
        {hist.error && <ErrorBox error={hist.error} />}
        {latency.x.length > 1 ? <Chart x={latency.x} series={latency.series} /> : <p class="muted">{hist.data ? t('none') : t('loading')}</p>}
      </section>
      {phaseChart && (
        <section class="card">
          <h2>{t('phases')}</h2>
          <Chart x={phaseChart.x} series={phaseChart.series} />
        </section>
      )}
      <section class="card">
        <h2>{t('events')}</h2>
        {events.error && <ErrorBox error={events.error} />}
        {events.data && events.data.length === 0 && <p class="muted">{t('noEvents')}</p>}
        {events.data && events.data.length > 0 && (
          <table class="tbl">
            <thead>
              <tr>
                <th>{t('time')}</th>
                <th>{t('state')}</th>
                <th>{t('reason')}</th>
              </tr>
            </thead>
            <tbody>
              {events.data.map((e) => (
                <tr>
                  <td>{fmtTime(e.time)}</td>
                  <td>
                    {e.from} → <b class={`t-${e.to}`}>{e.to}</b>
                  </td>
                  <td>{e.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </main>
  );
}
