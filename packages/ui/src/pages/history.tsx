// Alert history: state changes of the alerts (GET /api/patrol/v1/alerts/history) and the
// notifications sent, with the outcome per channel (GET /api/patrol/v1/notifications), filtered by
// matchers and a time range. The filter lives in the URL (/history?matchers=…&range=24h&end=…) so
// the alerts page can link to one alert's history and a view can be shared.

import { useMemo, useState } from 'preact/hooks';
import { useApi } from '../api';
import { ErrorBox, Loading } from '../components';
import { fmtTime, t, type Key } from '../i18n';
import { formatMatcher, parseMatchers } from '../matchers';
import { navigate } from '../router';
import { Labels } from './alerts';

interface AlertEvent {
  ts: string;
  fingerprint: string;
  event: string;
  labels: Record<string, string>;
  detail?: Record<string, unknown>;
}

interface Notification {
  ts: string;
  receiver: string;
  integration: string;
  kind: string;
  alerts: { fingerprint: string; status: string; labels: Record<string, string> }[];
  outcome: 'success' | 'failure';
  error?: string;
  durationMs: number;
}

export const RANGES: [string, number][] = [
  ['15m', 15 * 60_000],
  ['1h', 3600_000],
  ['6h', 6 * 3600_000],
  ['24h', 86400_000],
  ['7d', 7 * 86400_000],
  ['30d', 30 * 86400_000],
];

const EVENT_BADGE: Record<string, string> = { firing: 'down', resolved: 'up', silenced: 'silenced', acknowledged: 'ack', escalated: 'degraded' };

function detailText(d: Record<string, unknown> | undefined): string {
  if (!d) return '';
  return Object.entries(d)
    .filter(([, v]) => v !== '' && v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

/** A datetime-local input's value (the viewer's time zone) from ms, and back. */
export function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** The window's fixed end from the URL's `end` (an ISO time), or null for "now". */
export function endParam(query: URLSearchParams): number | null {
  const v = query.get('end');
  return v && Number.isFinite(Date.parse(v)) ? Date.parse(v) : null;
}

/** The field for the window's end, in local time (empty: now); history and explore share it. */
export function EndTimeInput({ end, onChange }: { end: number | null; onChange: (iso: string | null) => void }) {
  return (
    <label>
      {t('endTime')}
      <input
        type="datetime-local"
        data-testid="end-time"
        value={end === null ? '' : localInput(end)}
        onChange={(e) => {
          const v = (e.target as HTMLInputElement).value;
          onChange(v ? new Date(v).toISOString() : null);
        }}
      />
    </label>
  );
}

export function HistoryPage({ query }: { query: URLSearchParams }) {
  const text = query.get('matchers') ?? '';
  const range = RANGES.find(([l]) => l === query.get('range'))?.[0] ?? '24h';
  const [draft, setDraft] = useState(text);
  const parsed = useMemo(() => parseMatchers(text), [text]);
  const draftParsed = useMemo(() => parseMatchers(draft), [draft]);
  const set = (next: { matchers?: string; range?: string; end?: string | null }) => {
    const q = new URLSearchParams(query);
    for (const [k, v] of Object.entries(next)) {
      if (v === null || v === '' || v === undefined) q.delete(k);
      else q.set(k, v);
    }
    navigate(`/history?${q.toString()}`, true);
  };
  // The window's end: fixed when given, else "now" (rounded to the minute so reloads share a URL).
  const end = endParam(query);
  const params = useMemo(() => {
    if (parsed.errors.length > 0) return null;
    const span = RANGES.find(([l]) => l === range)![1];
    const e = end ?? Date.now() + 60_000;
    const p = new URLSearchParams();
    for (const m of parsed.matchers) p.append('filter', formatMatcher(m));
    p.set('start', new Date(e - span).toISOString());
    if (end !== null) p.set('end', new Date(e).toISOString());
    p.set('limit', '500');
    return p.toString();
  }, [parsed, range, end]);
  const events = useApi<AlertEvent[]>(params === null ? null : `/api/patrol/v1/alerts/history?${params}`, end === null ? 10000 : 0);
  const notifs = useApi<Notification[]>(params === null ? null : `/api/patrol/v1/notifications?${params}`, end === null ? 10000 : 0);
  const evs = useMemo(() => (events.data ?? []).slice().sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts)), [events.data]);
  const ns = useMemo(() => (notifs.data ?? []).slice().sort((a, b) => Date.parse(b.ts) - Date.parse(a.ts)), [notifs.data]);

  return (
    <main class="page">
      <h1>{t('history')}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          if (draftParsed.errors.length === 0) set({ matchers: draft.trim() });
        }}
      >
        <label class="grow">
          {t('matchers')}
          <textarea rows={2} value={draft} spellcheck={false} aria-invalid={draftParsed.errors.length > 0} onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)} />
        </label>
        <label>
          {t('range')}
          <select value={range} onChange={(e) => set({ range: (e.target as HTMLSelectElement).value })}>
            {RANGES.map(([l]) => (
              <option value={l}>{l}</option>
            ))}
          </select>
        </label>
        <EndTimeInput end={end} onChange={(v) => set({ end: v })} />
        <button type="submit" class="primary" disabled={draftParsed.errors.length > 0}>
          {t('apply')}
        </button>
      </form>
      {draftParsed.errors.length > 0 && (
        <ul class="problems" role="alert" data-testid="matcher-errors">
          {draftParsed.errors.map((p) => (
            <li>
              {t('invalidMatcher')}: {p}
            </li>
          ))}
        </ul>
      )}
      <section class="card">
        <h2>{t('alertEvents')}</h2>
        {events.error && <ErrorBox error={events.error} retry={events.reload} />}
        {params !== null && !events.data && !events.error && <Loading />}
        {events.data && evs.length === 0 && <p class="muted">{t('noHistory')}</p>}
        {evs.length > 0 && (
          <div class="scroll-x">
            <table class="tbl" data-testid="events">
              <thead>
                <tr>
                  <th>{t('time')}</th>
                  <th>{t('event')}</th>
                  <th>{t('labels')}</th>
                  <th>{t('details')}</th>
                </tr>
              </thead>
              <tbody>
                {evs.map((e) => (
                  <tr data-event={e.event}>
                    <td class="nowrap">{fmtTime(Date.parse(e.ts))}</td>
                    <td>
                      <span class={`badge s-${EVENT_BADGE[e.event] ?? 'unknown'}`}>{t(e.event as Key) ?? e.event}</span>
                    </td>
                    <td>
                      <b>{e.labels.alertname}</b> <Labels labels={e.labels} />
                    </td>
                    <td>{detailText(e.detail)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card">
        <h2>{t('notifications')}</h2>
        {notifs.error && <ErrorBox error={notifs.error} retry={notifs.reload} />}
        {params !== null && !notifs.data && !notifs.error && <Loading />}
        {notifs.data && ns.length === 0 && <p class="muted">{t('noNotifications')}</p>}
        {ns.length > 0 && (
          <div class="scroll-x">
            <table class="tbl" data-testid="notifications">
              <thead>
                <tr>
                  <th>{t('time')}</th>
                  <th>{t('channel')}</th>
                  <th>{t('outcome')}</th>
                  <th>{t('alerts')}</th>
                  <th>{t('lastError')}</th>
                </tr>
              </thead>
              <tbody>
                {ns.map((n) => (
                  <tr data-outcome={n.outcome}>
                    <td class="nowrap">{fmtTime(Date.parse(n.ts))}</td>
                    <td>
                      <b>{n.receiver}</b> <span class="label">{n.integration}</span> <small class="muted">{n.kind}</small>
                    </td>
                    <td>
                      <span class={`badge s-${n.outcome === 'success' ? 'up' : 'down'}`}>{t(n.outcome)}</span> <small class="muted">{Math.round(n.durationMs)} ms</small>
                    </td>
                    <td>
                      {n.alerts.map((a) => (
                        <span class="label">
                          {a.labels.alertname ?? a.fingerprint} ({t(a.status as Key) ?? a.status})
                        </span>
                      ))}
                    </td>
                    <td class="t-down">{n.error ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </main>
  );
}
