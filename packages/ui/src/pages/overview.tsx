// Every probe with its state, since when, the last failure, 24 hourly uptime cells and a latency
// sparkline; counts at the top; a filter over name, target and labels. The list is virtualised:
// only the rows in view (and a few around) are in the DOM, so 10,000 probes scroll smoothly.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { fetchDailyUptime, probeSilenced, shownState, unpackCells, useAcks, useOverview, useSilences, type OverviewRow, type ProbeAck } from '../api';
import { ErrorBox, Loading, Sparkline, StateBadge, UptimeBar } from '../components';
import { fmtMs, fmtPct, fmtSpan, fmtTime, t } from '../i18n';
import { location, navigate } from '../router';

type Bars = '24h' | '30d' | '90d';
type Shown = ReturnType<typeof shownState> | 'silenced' | 'acknowledged';
const ORDER: Record<Shown, number> = { down: 0, degraded: 1, acknowledged: 2, silenced: 3, unknown: 4, up: 5 };

interface Item {
  row: OverviewRow;
  state: Shown;
  /** Every active alert of the probe is acknowledged: by whom. */
  ack?: ProbeAck;
  /** Lower-cased name, target, type and labels; built on the first word filter, not at load. */
  hay?: string;
}

/** A group's header in the list (group by service, team or any label). */
interface Head {
  head: string;
  n: number;
  down: number;
}
type Entry = Item | Head;
const isHead = (e: Entry): e is Head => 'head' in e;

function hayOf(it: Item): string {
  const r = it.row;
  return (it.hay ??= `${r.name} ${r.target} ${r.type} ${Object.entries(r.labels).map(([k, v]) => `${k}=${v}`).join(' ')}`.toLowerCase());
}

/** Items grouped by a label's value (probes without the label last), groups with the most down first. */
function grouped(items: Item[], by: string): Entry[] {
  const groups = new Map<string, Item[]>();
  for (const it of items) {
    const v = it.row.labels[by] ?? '';
    let g = groups.get(v);
    if (!g) groups.set(v, (g = []));
    g.push(it);
  }
  const heads = [...groups].map(([v, list]) => ({ v, list, down: list.filter((x) => x.state === 'down').length }));
  heads.sort((a, b) => b.down - a.down || (a.v === '' ? 1 : b.v === '' ? -1 : a.v < b.v ? -1 : a.v > b.v ? 1 : 0));
  const out: Entry[] = [];
  for (const h of heads) {
    out.push({ head: h.v ? `${by}=${h.v}` : `${by} —`, n: h.list.length, down: h.down });
    for (const it of h.list) out.push(it);
  }
  return out;
}

interface Filter {
  states: Set<string>;
  labels: { name: string; value: string; neg: boolean }[];
  words: string[];
}

/** `state:down`, `team=web`, `team!=web`, and words matched against name, target and labels. */
export function parseFilter(q: string): Filter {
  const f: Filter = { states: new Set(), labels: [], words: [] };
  for (const tok of q.trim().toLowerCase().split(/\s+/)) {
    if (!tok) continue;
    const st = /^state:(\w+)$/.exec(tok);
    if (st) {
      f.states.add(st[1]);
      continue;
    }
    const m = /^([a-z_][a-z0-9_]*)(!=|=)(.*)$/.exec(tok);
    if (m) f.labels.push({ name: m[1], value: m[3].replace(/^"|"$/g, ''), neg: m[2] === '!=' });
    else f.words.push(tok);
  }
  return f;
}

function matches(it: Item, f: Filter): boolean {
  if (f.states.size > 0 && !f.states.has(it.state)) return false;
  for (const l of f.labels) {
    const v = (l.name === 'name' || l.name === 'probe' ? it.row.name : l.name === 'type' ? it.row.type : (it.row.labels[l.name] ?? '')).toLowerCase();
    if ((v === l.value) === l.neg) return false;
  }
  for (const w of f.words) if (!hayOf(it).includes(w)) return false;
  return true;
}

/** A tooltip set when the pointer reaches it: formatting times for every drawn row costs at load. */
function lazyTitle(e: Event, text: string): void {
  (e.currentTarget as HTMLElement).title = text;
}

function rowHeight(): number {
  return matchMedia('(max-width: 720px)').matches ? 68 : 52;
}

export function OverviewPage() {
  const ov = useOverview();
  const silences = useSilences();
  const acks = useAcks();
  const initialQ = new URLSearchParams(location.value.split('?')[1] ?? '').get('q') ?? '';
  // The bars' span: 24 hourly cells (in the overview's answer), or 30 / 90 daily ones fetched when
  // chosen (never at first load) and again every 5 minutes while shown.
  const [bars, setBars] = useState<Bars>(() => {
    const b = new URLSearchParams(location.value.split('?')[1] ?? '').get('bars');
    return b === '30d' || b === '90d' ? b : '24h';
  });
  const [daily, setDaily] = useState<{ bars: Bars; first: number; byName: Map<string, { cells: string; uptime: number | null }> } | null>(null);
  const [dailyError, setDailyError] = useState<string | null>(null);
  useEffect(() => {
    if (bars === '24h') return;
    let live = true;
    const days = bars === '30d' ? 30 : 90;
    const load = () =>
      fetchDailyUptime(days)
        .then((byName) => {
          if (!live) return;
          setDailyError(null);
          setDaily({ bars, first: Math.floor(Date.now() / 86_400_000) * 86_400_000 - (days - 1) * 86_400_000, byName });
        })
        .catch((e: Error) => live && setDailyError(e.message));
    void load();
    const id = setInterval(load, 5 * 60_000);
    return () => {
      live = false;
      clearInterval(id);
    };
  }, [bars]);
  const dayCells = daily && daily.bars === bars ? daily : null;
  const [q, setQ] = useState(initialQ);
  const [sel, setSel] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewH, setViewH] = useState(800);
  const [rh, setRh] = useState(rowHeight);
  const listRef = useRef<HTMLDivElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  const items = useMemo(() => {
    const out: Item[] = ov.rows.map((row) => {
      const ack = acks.size > 0 && row.state !== 'up' ? acks.get(row.name) : undefined;
      return { row, ack, state: row.state !== 'up' && probeSilenced(row, silences) ? 'silenced' : ack ? 'acknowledged' : shownState(row) };
    });
    out.sort((a, b) => ORDER[a.state] - ORDER[b.state] || (a.row.name < b.row.name ? -1 : a.row.name > b.row.name ? 1 : 0));
    return out;
  }, [ov.rows, silences, acks]);
  // Counts of what the list shows (DEGRADED and UP-with-failures both count as degraded).
  const cnt = useMemo(() => {
    const n: Record<Shown, number> = { down: 0, degraded: 0, acknowledged: 0, silenced: 0, unknown: 0, up: 0 };
    if (ov.head) {
      // Only the first screen is in: the server's counts until the full list answers.
      const c = ov.counts;
      return { ...n, down: c.down, degraded: c.degraded, unknown: c.unknown, up: Math.max(0, ov.total - c.down - c.degraded - c.unknown) };
    }
    for (const it of items) n[it.state]++;
    return n;
  }, [items, ov.head, ov.counts, ov.total]);
  // The words' haystacks are built while the page is idle after a load, so the first typed word
  // does not build 10,000 of them at once (they are built on demand before that).
  useEffect(() => {
    if (typeof requestIdleCallback === 'undefined' || ov.head) return;
    let i = 0;
    let id = 0;
    const step = (d: IdleDeadline) => {
      while (i < items.length && d.timeRemaining() > 1) for (const end = Math.min(items.length, i + 200); i < end; i++) hayOf(items[i]);
      if (i < items.length) id = requestIdleCallback(step);
    };
    id = requestIdleCallback(step);
    return () => cancelIdleCallback(id);
  }, [items, ov.head]);
  const filter = useMemo(() => parseFilter(q), [q]);
  const shown = useMemo(() => items.filter((it) => matches(it, filter)), [items, filter]);
  const [group, setGroup] = useState(new URLSearchParams(location.value.split('?')[1] ?? '').get('group') ?? '');
  /** Label names to group by: service and team first, then every other label seen. */
  const groupKeys = useMemo(() => {
    const seen = new Set<string>(['service', 'team']);
    for (let i = 0; i < ov.rows.length; i += Math.max(1, Math.floor(ov.rows.length / 500))) for (const k in ov.rows[i].labels) seen.add(k);
    return [...seen];
  }, [ov.rows]);
  const entries: Entry[] = useMemo(() => (group ? grouped(shown, group) : shown), [shown, group]);

  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    const measure = () => {
      setViewH(el.clientHeight);
      setRh(rowHeight());
    };
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ov.loaded]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === '/' && document.activeElement !== inputRef.current) {
        e.preventDefault();
        inputRef.current?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const onFilter = (v: string) => {
    setQ(v);
    setSel(0);
    if (listRef.current) listRef.current.scrollTop = 0;
    writeUrl(v, group, bars);
  };
  const writeUrl = (qv: string, g: string, b: Bars) => {
    const u = new URLSearchParams();
    if (qv) u.set('q', qv);
    if (g) u.set('group', g);
    if (b !== '24h') u.set('bars', b);
    const s = u.toString();
    history.replaceState(null, '', s ? `/?${s}` : '/');
  };
  const onGroup = (g: string) => {
    setGroup(g);
    setSel(0);
    writeUrl(q, g, bars);
  };
  const onBars = (b: Bars) => {
    setBars(b);
    writeUrl(q, group, b);
  };

  const setStateFilter = (s: string | null) => {
    const rest = q.split(/\s+/).filter((w) => w && !/^state:/i.test(w));
    if (s) rest.unshift(`state:${s}`);
    onFilter(rest.join(' '));
  };

  const moveSel = (i: number) => {
    const n = Math.max(0, Math.min(entries.length - 1, i));
    setSel(n);
    const el = listRef.current;
    if (!el) return;
    if (n * rh < el.scrollTop) el.scrollTop = n * rh;
    else if ((n + 1) * rh > el.scrollTop + el.clientHeight) el.scrollTop = (n + 1) * rh - el.clientHeight;
  };
  const onListKey = (e: KeyboardEvent) => {
    const page = Math.max(1, Math.floor(viewH / rh) - 1);
    if (e.key === 'ArrowDown' || e.key === 'j') moveSel(sel + 1);
    else if (e.key === 'ArrowUp' || e.key === 'k') moveSel(sel - 1);
    else if (e.key === 'PageDown') moveSel(sel + page);
    else if (e.key === 'PageUp') moveSel(sel - page);
    else if (e.key === 'Home') moveSel(0);
    else if (e.key === 'End') moveSel(entries.length - 1);
    else if (e.key === 'Enter' && entries[sel] && !isHead(entries[sel])) navigate(`/probes/${encodeURIComponent((entries[sel] as Item).row.name)}`);
    else return;
    e.preventDefault();
  };

  const now = Date.now();
  const total = ov.head ? ov.total : ov.rows.length;
  const first = Math.max(0, Math.floor(scrollTop / rh) - 5);
  const last = Math.min(entries.length, Math.ceil((scrollTop + viewH) / rh) + 5);
  const activeState = filter.states.size === 1 ? [...filter.states][0] : null;
  const chip = (s: string | null, label: string, n: number, cls: string) => (
    <button type="button" class={`chip ${cls} ${activeState === s ? 'on' : ''}`} aria-pressed={activeState === s} onClick={() => setStateFilter(s)}>
      <b>{n}</b> {label}
    </button>
  );

  return (
    <main class="page overview">
      <div class="counts" role="group" aria-label={t('state')}>
        {chip(null, t('all'), total, 'all')}
        {chip('down', t('down'), cnt.down, 's-down')}
        {chip('degraded', t('degraded'), cnt.degraded, 's-degraded')}
        {cnt.acknowledged > 0 && chip('acknowledged', t('ackState'), cnt.acknowledged, 's-ack')}
        {chip('silenced', t('silenced'), cnt.silenced, 's-silenced')}
        {chip('unknown', t('unknown'), cnt.unknown, 's-unknown')}
        {chip('up', t('up'), cnt.up, 's-up')}
      </div>
      <div class="filterbar">
        <input ref={inputRef} type="search" class="filter" placeholder={t('filter')} aria-label={t('filter')} value={q} onInput={(e) => onFilter((e.target as HTMLInputElement).value)} />
        <label class="group">
          {t('groupBy')}{' '}
          <select data-testid="group-by" value={group} onChange={(e) => onGroup((e.target as HTMLSelectElement).value)}>
            <option value="">{t('noGroup')}</option>
            {groupKeys.map((k) => (
              <option value={k}>{k}</option>
            ))}
          </select>
        </label>
        <label class="group">
          {t('uptimeBars')}{' '}
          <select data-testid="bars" value={bars} onChange={(e) => onBars((e.target as HTMLSelectElement).value as Bars)}>
            <option value="24h">24 h</option>
            <option value="30d">30 d</option>
            <option value="90d">90 d</option>
          </select>
        </label>
        <span class="muted count" data-testid="shown-count">
          {shown.length} / {total}
        </span>
      </div>
      {ov.error && <ErrorBox error={ov.error} />}
      {bars !== '24h' && dailyError && <ErrorBox error={dailyError} />}
      {!ov.loaded && !ov.error && <Loading />}
      {ov.loaded && total === 0 && <p class="msg">{t('noProbes')}</p>}
      {ov.loaded && total > 0 && shown.length === 0 && <p class="msg">{t('noMatch')}</p>}
      <div class="thead" aria-hidden="true">
        <span>{t('state')}</span>
        <span>{t('name')}</span>
        <span>{t('since')}</span>
        <span>{t('lastFailure')}</span>
        <span>{t(bars === '24h' ? 'uptime24' : bars === '30d' ? 'uptime30' : 'uptime90')}</span>
        <span>{t('latency')}</span>
      </div>
      <div
        class="vlist"
        ref={listRef}
        role="listbox"
        tabIndex={0}
        aria-label={t('overview')}
        aria-activedescendant={entries[sel] ? `row-${sel}` : undefined}
        aria-busy={ov.head}
        data-complete={ov.loaded && !ov.head ? '' : undefined}
        onScroll={(e) => setScrollTop((e.target as HTMLElement).scrollTop)}
        onKeyDown={onListKey}
      >
        <div style={{ height: `${entries.length * rh}px`, position: 'relative' }}>
          {entries.slice(first, last).map((it, k) => {
            const i = first + k;
            if (isHead(it))
              return (
                <div key={`h:${it.head}`} id={`row-${i}`} role="option" aria-selected={i === sel} class={`row ghead ${i === sel ? 'sel' : ''}`} style={{ top: `${i * rh}px`, height: `${rh}px` }} data-group={it.head}>
                  <b>{it.head}</b>
                  <span class="muted">
                    {it.n} {t('probes')}
                    {it.down > 0 && (
                      <>
                        {' · '}
                        <span class="t-down">
                          {it.down} {t('down')}
                        </span>
                      </>
                    )}
                  </span>
                </div>
              );
            const r = it.row;
            return (
              <a
                key={r.name}
                id={`row-${i}`}
                role="option"
                aria-selected={i === sel}
                tabIndex={-1}
                class={`row ${i === sel ? 'sel' : ''}`}
                style={{ top: `${i * rh}px`, height: `${rh}px` }}
                href={`/probes/${encodeURIComponent(r.name)}`}
                data-probe={r.name}
              >
                <span class="c-state">
                  {it.state === 'acknowledged' ? (
                    <span class="badge s-ack" title={`${t('ackedBy')} ${it.ack?.by ?? ''} · ${fmtTime(it.ack?.at)}`}>
                      {t('ackShort')}
                    </span>
                  ) : (
                    <StateBadge state={it.state} />
                  )}
                </span>
                <span class="c-name">
                  <b>{r.name}</b>
                  <small class="muted">{r.target}</small>
                </span>
                <span class="c-since muted" onPointerEnter={(e) => lazyTitle(e, fmtTime(r.since))}>
                  {r.since ? fmtSpan(now - r.since) : '—'}
                </span>
                <span class="c-fail" onPointerEnter={(e) => r.last_failure && lazyTitle(e, `${fmtTime(r.last_failure.time)} ${r.last_failure.reason}`)}>
                  {r.last_failure ? r.last_failure.reason : <span class="muted">{t('none')}</span>}
                  {it.ack && (
                    <small class="muted acked" data-testid="acked-by">
                      {' · '}
                      {t('ackedBy')} {it.ack.by}
                    </small>
                  )}
                </span>
                <span class="c-up">
                  {bars === '24h' ? (
                    <>
                      <UptimeBar hours={r.hours} />
                      <small>{fmtPct(r.uptime_24h)}</small>
                    </>
                  ) : dayCells ? (
                    <>
                      <UptimeBar hours={unpackCells(dayCells.byName.get(r.name)?.cells ?? '')} firstDay={dayCells.first} />
                      <small>{fmtPct(dayCells.byName.get(r.name)?.uptime)}</small>
                    </>
                  ) : (
                    <small class="muted">…</small>
                  )}
                </span>
                <span class="c-lat">
                  <Sparkline values={r.spark} />
                  <small>{fmtMs(r.last?.ms)}</small>
                </span>
              </a>
            );
          })}
        </div>
      </div>
    </main>
  );
}
