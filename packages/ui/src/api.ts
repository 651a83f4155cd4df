// Talks to Patrol's public HTTP APIs. Every call goes through request(): a response with
// Prometheus's error envelope becomes an ApiError carrying the server's message; a network
// failure marks the connection lost (the banner says "reconnecting") until a call succeeds.

import { useEffect, useState } from 'preact/hooks';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

type Listener = () => void;

/** A tiny observable value for state shared between components. */
export class Store<T> {
  private listeners = new Set<Listener>();
  constructor(private v: T) {}
  get value(): T {
    return this.v;
  }
  set(v: T): void {
    if (Object.is(v, this.v)) return;
    this.v = v;
    for (const l of this.listeners) l();
  }
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}

export function useStore<T>(s: Store<T>): T {
  const [, tick] = useState(0);
  useEffect(() => s.subscribe(() => tick((n) => n + 1)), [s]);
  return s.value;
}

/** False while the server cannot be reached. */
export const online = new Store(true);

// With server.auth, the dashboard's session cookie is HttpOnly and every write must carry the
// CSRF token the login (or whoami, after a reload of the page) answers.
// undefined: not asked yet; null: asked, no session (no auth, or not logged in).
let csrf: string | null | undefined;

/** Remembers the CSRF token of a fresh login. */
export function setCsrfToken(token: string | undefined): void {
  csrf = token;
}

async function csrfToken(refresh: boolean): Promise<string | undefined> {
  if (csrf === undefined || refresh) {
    try {
      const r = await fetch('/api/patrol/v1/auth/whoami', { headers: { Accept: 'application/json' } });
      csrf = (r.ok ? ((await r.json()) as { data?: { csrf_token?: string } }).data?.csrf_token : undefined) ?? null;
    } catch {
      csrf = undefined;
    }
  }
  return csrf ?? undefined;
}

const isWrite = (init?: RequestInit) => !!init?.method && !/^(GET|HEAD)$/i.test(init.method);

async function send(url: string, init: RequestInit | undefined, refreshCsrf: boolean): Promise<Response> {
  const token = isWrite(init) ? await csrfToken(refreshCsrf) : undefined;
  return fetch(url, { ...init, headers: { Accept: 'application/json', ...(init?.body ? { 'Content-Type': 'application/json' } : {}), ...(token ? { 'X-CSRF-Token': token } : {}), ...init?.headers } });
}

export async function request<T>(url: string, init?: RequestInit, early?: Promise<Response>): Promise<T> {
  let res: Response;
  try {
    res = early ? await early : await send(url, init, false);
    // A token from before a restart or another login: fetch it again once.
    if (res.status === 403 && isWrite(init) && !early) res = await send(url, init, true);
  } catch {
    online.set(false);
    throw new ApiError('network error: the Patrol server cannot be reached', 0);
  }
  online.set(true);
  if (res.status === 401 && location.pathname !== '/login' && !url.startsWith('/api/patrol/v1/auth/')) {
    // Not logged in (or the session ended): to the login page, and back here afterwards.
    location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
  }
  const text = await res.text();
  let body: unknown = undefined;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  if (!res.ok) {
    const b = body as { error?: string; message?: string } | string | undefined;
    const msg = typeof b === 'string' ? b : (b?.error ?? b?.message ?? text.slice(0, 300)) || res.statusText;
    throw new ApiError(`${url.split('?')[0]}: ${res.status} ${msg}`, res.status);
  }
  const env = body as { status?: string; data?: unknown; error?: string } | undefined;
  // Prometheus-style envelope ({status, data}); Alertmanager's v2 API answers the value itself.
  if (env && typeof env === 'object' && !Array.isArray(env) && (env.status === 'success' || env.status === 'error') && 'data' in env) return env.data as T;
  if (env && typeof env === 'object' && !Array.isArray(env) && env.status === 'error') throw new ApiError(env.error ?? 'error', res.status);
  return body as T;
}

/** Loads a URL once per change of `deps`, and again every `refreshMs` when given. */
export function useApi<T>(url: string | null, refreshMs = 0): { data: T | undefined; error: string | null; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!url) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const d = await request<T>(url);
        if (!live) return;
        setData(d);
        setError(null);
      } catch (e) {
        if (!live) return;
        setError((e as Error).message);
      }
      if (live && refreshMs > 0) timer = setTimeout(() => void load(), online.value ? refreshMs : Math.min(refreshMs, 2000));
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [url, refreshMs, n]);
  return { data, error, reload: () => setN((x) => x + 1) };
}

// ---- the overview: one full read of /api/patrol/v1/overview, then live updates ----
// Probe state changes arrive on the event stream (/api/patrol/v1/events/stream, server-sent
// events, at most one message a second) with the changed rows; a delta read (?after=SEQ) every
// 30 s refreshes the latency and uptime figures of probes that ran, and runs after a reconnect
// or when the stream says resync.

export type ProbeState = 'up' | 'down' | 'unknown' | 'degraded';

export interface OverviewRow {
  name: string;
  type: string;
  target: string;
  labels: Record<string, string>;
  state: ProbeState;
  since: number | null;
  failures: number;
  last: { time: number; success: boolean; ms: number } | null;
  last_failure: { time: number; reason: string } | null;
  uptime_24h: number | null;
  hours: number[];
  spark: number[];
}

/**
 * The overview in columns (GET /api/patrol/v1/overview?format=columns; the layout is described
 * in packages/patrol/src/api/overview_columns.ts): a third of the rows' JSON. Decoded into rows
 * that share their label sets and unpack the hourly cells and the sparkline only when drawn.
 */
type OverviewColumns = Omit<OverviewAnswer, 'probes'> & { head?: true; total?: number; base: number; n: number; strings: string[]; labelsets: Record<string, string>[] } & Record<'name' | 'target' | 'hours', string[]> &
  Record<'type' | 'labels' | 'state' | 'since' | 'failures' | 'uptime', number[]> & { last: ([number, number, number] | 0)[]; fail: ([number, number] | 0)[]; spark: ([number, string] | 0)[] };

const STATES: ProbeState[] = ['unknown', 'up', 'down', 'degraded'];
/** Level of a packed character: '#'..'~' without the backslash is 0..90. */
const level = (c: number) => (c < 0x5c ? c - 0x23 : c - 0x24);

/** Packed cells (the overview's hours, the 30/90-day days) as ratios, -1 where nothing is known. */
export function unpackCells(packed: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < packed.length; i++) {
    const c = packed.charCodeAt(i);
    out.push(c === 0x20 ? -1 : level(c) / 90);
  }
  return out;
}

/** GET /api/patrol/v1/overview/uptime?days=N: each probe's daily cells and ratio over N days. */
export async function fetchDailyUptime(days: 30 | 90): Promise<Map<string, { cells: string; uptime: number | null }>> {
  const d = await request<{ name: string[]; uptime: number[]; cells: string[] }>(`/api/patrol/v1/overview/uptime?days=${days}`);
  const out = new Map<string, { cells: string; uptime: number | null }>();
  d.name.forEach((n, i) => out.set(n, { cells: d.cells[i], uptime: d.uptime[i] < 0 ? null : d.uptime[i] }));
  return out;
}

class PackedRow implements OverviewRow {
  private h: number[] | null = null;
  private s: number[] | null = null;
  constructor(
    readonly name: string,
    readonly type: string,
    readonly target: string,
    readonly labels: Record<string, string>,
    readonly state: ProbeState,
    readonly since: number | null,
    readonly failures: number,
    readonly last: OverviewRow['last'],
    readonly last_failure: OverviewRow['last_failure'],
    readonly uptime_24h: number | null,
    private readonly ph: string,
    private readonly ps: [number, string] | 0,
  ) {}
  /** 90 is ">= 0.999", below that floor(ratio * 90): the bars' 0.9 and 0.999 boundaries hold. */
  get hours(): number[] {
    return (this.h ??= unpackCells(this.ph));
  }
  get spark(): number[] {
    if (!this.s) {
      this.s = [];
      if (this.ps) for (let i = 0; i < this.ps[1].length; i++) this.s.push((level(this.ps[1].charCodeAt(i)) / 90) * this.ps[0]);
    }
    return this.s;
  }
}

function decodeColumns(c: OverviewColumns): OverviewAnswer {
  const probes: OverviewRow[] = new Array(c.n);
  const b = c.base;
  for (let i = 0; i < c.n; i++) {
    const l = c.last[i];
    const f = c.fail[i];
    probes[i] = new PackedRow(
      c.name[i],
      c.strings[c.type[i]],
      c.target[i],
      c.labelsets[c.labels[i]],
      STATES[c.state[i]] ?? 'unknown',
      c.since[i] < 0 ? null : b - c.since[i],
      c.failures[i],
      l ? { time: b - l[0], success: l[1] === 1, ms: l[2] } : null,
      f ? { time: b - f[0], reason: c.strings[f[1]] } : null,
      c.uptime[i] < 0 ? null : c.uptime[i],
      c.hours[i],
      c.spark[i],
    );
  }
  return { generation: c.generation, seq: c.seq, full: c.full, counts: c.counts, probes };
}

interface OverviewAnswer {
  generation: number;
  seq: number;
  full: boolean;
  counts: Record<ProbeState, number>;
  probes: OverviewRow[];
}

export interface Overview {
  rows: OverviewRow[];
  counts: OverviewAnswer['counts'];
  /** Only the first screen's rows so far (the full read is under way); `total` probes in all. */
  head: boolean;
  total: number;
  /** Bumped on every change, for memoisation. */
  version: number;
  error: string | null;
  loaded: boolean;
}

export const overview = new Store<Overview>({ rows: [], counts: { up: 0, down: 0, unknown: 0, degraded: 0 }, head: false, total: 0, version: 0, error: null, loaded: false });

/** Alert changes from the event stream (bumped per message), for pages that show alerts. */
export const alertsChanged = new Store(0);

const DELTA_MS = 30_000;
/** A full read (which refreshes the uptime figures) every this often; deltas in between. */
const FULL_MS = 5 * 60_000;
let users = 0;
let live: { stop(): void } | null = null;

/** Keeps the overview live while at least one page uses it. */
export function useOverview(): Overview {
  useEffect(() => {
    users++;
    live ??= startLive();
    return () => {
      users--;
      // Stays open across a quick page switch; closed when nothing used it for a while.
      setTimeout(() => {
        if (users === 0 && live) {
          live.stop();
          live = null;
        }
      }, 60_000);
    };
  }, []);
  return useStore(overview);
}

function startLive(): { stop(): void } {
  let generation = -1;
  let seq = -1;
  let lastFull = 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reading: Promise<void> | null = null;
  let again = false;
  const byName = new Map<string, number>();

  const apply = (a: { generation: number; seq: number; full?: boolean; counts: OverviewAnswer['counts']; probes: OverviewRow[] }) => {
    let rows = overview.value.rows;
    if (a.full) {
      rows = a.probes;
      byName.clear();
      rows.forEach((r, i) => byName.set(r.name, i));
    } else if (a.probes.length > 0) {
      rows = rows.slice();
      for (const p of a.probes) {
        const i = byName.get(p.name);
        if (i === undefined) {
          byName.set(p.name, rows.length);
          rows.push(p);
        } else rows[i] = p;
      }
    }
    generation = a.generation;
    seq = Math.max(seq, a.seq);
    const changed = a.full || a.probes.length > 0 || overview.value.error !== null || !overview.value.loaded;
    const countsChanged = JSON.stringify(a.counts) !== JSON.stringify(overview.value.counts);
    if (changed || countsChanged || overview.value.head) overview.set({ rows, counts: a.counts, head: false, total: rows.length, version: overview.value.version + 1, error: null, loaded: true });
  };

  const read = async () => {
    const full = seq < 0 || Date.now() - lastFull > FULL_MS;
    try {
      // The first read may already be under way (index.html starts it).
      const w = window as { __overview?: Promise<Response> };
      const early = w.__overview;
      w.__overview = undefined;
      const a = decodeColumns(await request<OverviewColumns>(full ? '/api/patrol/v1/overview?format=columns' : `/api/patrol/v1/overview?format=columns&after=${seq}&generation=${generation}`, undefined, full ? early : undefined));
      if (a.full) lastFull = Date.now();
      if (!stopped) apply(a);
    } catch (e) {
      if (!stopped) overview.set({ ...overview.value, error: (e as Error).message, version: overview.value.version + 1 });
    }
  };
  /** One read at a time; asks made during a read make one more read after it. */
  const refresh = (): void => {
    if (reading) {
      again = true;
      return;
    }
    clearTimeout(timer);
    reading = read().finally(() => {
      reading = null;
      if (stopped) return;
      if (again) {
        again = false;
        refresh();
      } else timer = setTimeout(refresh, online.value ? DELTA_MS : 2000);
    });
  };
  // On a cold load index.html also asked for the first screen's rows (head=50, down first):
  // shown until the full read answers.
  const w = window as { __overviewHead?: Promise<Response> };
  const headEarly = w.__overviewHead;
  w.__overviewHead = undefined;
  if (headEarly)
    request<OverviewColumns>('/api/patrol/v1/overview?format=columns&head=50', undefined, headEarly).then(
      (c) => {
        if (stopped || seq >= 0) return; // the full read came first
        const a = decodeColumns(c);
        overview.set({ rows: a.probes, counts: a.counts, head: true, total: c.total ?? a.probes.length, version: overview.value.version + 1, error: null, loaded: true });
      },
      () => undefined, // the full read reports errors
    );
  refresh();

  let es: EventSource | null = null;
  if (typeof EventSource !== 'undefined') {
    es = new EventSource('/api/patrol/v1/events/stream');
    let lost = false;
    es.addEventListener('open', () => {
      online.set(true);
      // Missed changes while the stream was down: read them.
      if (lost && seq >= 0) refresh();
      lost = false;
    });
    es.addEventListener('error', () => {
      lost = true;
      // CLOSED: the server refused (an HTTP error): EventSource gives up, so retry by hand.
      if (es && es.readyState === EventSource.CLOSED) online.set(false);
      else if (es && es.readyState === EventSource.CONNECTING) online.set(false);
    });
    es.addEventListener('probes', (ev) => {
      const m = JSON.parse((ev as MessageEvent<string>).data) as { generation: number; seq: number; counts: OverviewAnswer['counts']; resync?: boolean; probes?: OverviewRow[] };
      if (seq < 0) return; // the full read is under way and will have these
      if (m.resync || m.generation !== generation || !m.probes) refresh();
      else apply({ generation: m.generation, seq: seq, counts: m.counts, probes: m.probes });
    });
    es.addEventListener('alerts', () => alertsChanged.set(alertsChanged.value + 1));
    // An alert acknowledged (or no longer) in any dashboard: the acknowledged probes are reread.
    es.addEventListener('acks', () => acksChanged.set(acksChanged.value + 1));
  }
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      es?.close();
    },
  };
}

/** The state shown: degraded (up but failing below the threshold) is derived here. */
export function shownState(r: OverviewRow): ProbeState {
  return r.state === 'up' && r.failures > 0 ? 'degraded' : r.state;
}

// ---- acknowledged probes (h17a): a probe shows "acknowledged" when every active alert naming it
// (label `probe`) is acknowledged. Read from /api/patrol/v1/alerts while the overview is open,
// again when the event stream says an acknowledgement was given or taken back, and every 30 s.

export interface ProbeAck {
  by: string;
  at: number;
}

/** Bumped by the event stream's `acks` messages. */
export const acksChanged = new Store(0);
export const probeAcks = new Store<Map<string, ProbeAck>>(new Map());

/** Probes whose active alerts are all acknowledged, with who acknowledged (the latest). */
export function acksByProbe(alerts: { labels: Record<string, string>; acknowledged: { by: string; at: string } | null }[]): Map<string, ProbeAck> {
  const out = new Map<string, ProbeAck>();
  const not = new Set<string>();
  for (const a of alerts) {
    const p = a.labels.probe;
    if (!p || not.has(p)) continue;
    if (!a.acknowledged) {
      not.add(p);
      out.delete(p);
      continue;
    }
    const at = Date.parse(a.acknowledged.at);
    const prev = out.get(p);
    if (!prev || at > prev.at) out.set(p, { by: a.acknowledged.by, at });
  }
  return out;
}

export function useAcks(): Map<string, ProbeAck> {
  const changed = useStore(acksChanged);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async () => {
      try {
        const list = await request<Parameters<typeof acksByProbe>[0]>('/api/patrol/v1/alerts');
        const next = acksByProbe(list);
        // Unchanged: keep the same value, so the overview does not rebuild its 10,000 items.
        if (live && JSON.stringify([...next]) !== JSON.stringify([...probeAcks.value])) probeAcks.set(next);
      } catch {
        // the overview's own reads report the connection
      }
      if (live) timer = setTimeout(() => void load(), 30_000);
    };
    void load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [changed]);
  return useStore(probeAcks);
}

export interface SilenceMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

/** Active silences, read every 30 s while the overview is open. */
export const activeSilences = new Store<SilenceMatcher[][]>([]);
let silencePoll: ReturnType<typeof setTimeout> | undefined;

export function useSilences(): SilenceMatcher[][] {
  useEffect(() => {
    const load = async () => {
      try {
        const list = await request<{ matchers: SilenceMatcher[]; status: { state: string } }[]>('/api/v2/silences');
        const next = list.filter((s) => s.status.state === 'active').map((s) => s.matchers);
        // Unchanged: keep the same value, so the overview does not rebuild its 10,000 items.
        if (JSON.stringify(next) !== JSON.stringify(activeSilences.value)) activeSilences.set(next);
      } catch {
        // the overview's own poll reports the connection
      }
      silencePoll = setTimeout(() => void load(), 30_000);
    };
    void load();
    return () => clearTimeout(silencePoll);
  }, []);
  return useStore(activeSilences);
}

/**
 * Whether a silence covers a probe's alerts: it names the probe (a matcher on `probe` or on one
 * of its labels), and every matcher on a label the probe has matches it. Matchers on alert-only
 * labels (alertname, severity) are left out: they concern which of the probe's alerts.
 */
export function probeSilenced(r: OverviewRow, silences: SilenceMatcher[][]): boolean {
  if (silences.length === 0) return false;
  const labels: Record<string, string> = { ...r.labels, probe: r.name };
  return silences.some((ms) => {
    let named = false;
    for (const m of ms) {
      if (!(m.name in labels)) continue;
      named = true;
      const v = labels[m.name];
      let ok: boolean;
      try {
        ok = m.isRegex ? new RegExp(`^(?:${m.value})$`).test(v) : v === m.value;
      } catch {
        return false;
      }
      if (ok !== m.isEqual) return false;
    }
    return named;
  });
}
