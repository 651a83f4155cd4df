// Explore: a PromQL query (Ctrl/⌘+Enter runs it) drawn as a graph (uPlot, loaded on demand) over
// a range, or as a table at the range's end. The URL holds the query, the range, its end and the
// view (/explore?q=…&range=1h&end=…&tab=graph; without `end` the range ends now), so a view can
// be shared. An invalid query shows the parser's message with a caret under the position it names.

import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { EditorHandle } from '../editor';
import { Chart } from '../chart';
import { ErrorBox, Loading } from '../components';
import { t } from '../i18n';
import { columns, errorPosition, instant, range as rangeQuery, seriesName, type QueryData, type Sample } from '../promql';
import { navigate } from '../router';
import { EndTimeInput, endParam, RANGES } from './history';

function ParseError({ query, message }: { query: string; message: string }) {
  const pos = errorPosition(message);
  if (!pos) return <ErrorBox error={message} />;
  const line = query.split('\n')[pos.line - 1] ?? '';
  return (
    <div class="error" role="alert" data-testid="parse-error">
      <strong>{t('error')}:</strong> {pos.line}:{pos.col}: {pos.text}
      <pre class="caret">
        {line}
        {'\n'}
        {' '.repeat(Math.max(0, pos.col - 1))}^
      </pre>
    </div>
  );
}

/**
 * The query field: a plain text area at first, replaced by the CodeMirror editor (highlighting,
 * completion, linting: ../editor, its own chunk) once that has loaded. If it cannot load, the
 * text area stays and works.
 */
function QueryEditor({ value, external, invalid, onChange, onRun }: { value: string; external: string; invalid: boolean; onChange: (v: string) => void; onRun: (v: string) => void }) {
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<EditorHandle | null>(null);
  const latest = useRef({ value, onChange, onRun });
  latest.current = { value, onChange, onRun };
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let live = true;
    import('../editor')
      .then((m) => {
        if (!live || !host.current) return;
        editor.current = m.mountEditor(host.current, {
          doc: latest.current.value,
          label: t('promql'),
          placeholder: t('exploreHint'),
          onChange: (v) => latest.current.onChange(v),
          onRun: (v) => latest.current.onRun(v),
        });
        setReady(true);
      })
      .catch(() => {
        // Kept: the text area.
      });
    return () => {
      live = false;
      editor.current?.destroy();
      editor.current = null;
    };
  }, []);
  // Only a query from outside (the URL) replaces the editor's text: `value` echoes the editor's
  // own edits a render late, and writing that back would undo the keys typed since.
  useEffect(() => editor.current?.setDoc(external), [external]);
  return (
    <>
      {!ready && (
        <textarea
          rows={3}
          value={value}
          spellcheck={false}
          aria-labelledby="promql-label"
          aria-invalid={invalid}
          data-testid="promql-plain"
          onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
              e.preventDefault();
              onRun((e.target as HTMLTextAreaElement).value);
            }
          }}
        />
      )}
      <div ref={host} class={`cm-host${invalid ? ' invalid' : ''}`} hidden={!ready} />
    </>
  );
}

function ResultTable({ data }: { data: QueryData }) {
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    return (
      <table class="tbl" data-testid="result-table">
        <tbody>
          <tr>
            <td>{data.resultType}</td>
            <td>{data.result[1]}</td>
          </tr>
        </tbody>
      </table>
    );
  }
  if (data.result.length === 0) return <p class="muted">{t('noData')}</p>;
  return (
    <table class="tbl" data-testid="result-table">
      <thead>
        <tr>
          <th>{t('series')}</th>
          <th>{t('value')}</th>
        </tr>
      </thead>
      <tbody>
        {(data.result as Sample[]).slice(0, 1000).map((s) => (
          <tr>
            <td>
              <code class="expr">{seriesName(s.metric)}</code>
            </td>
            <td class="nowrap">{s.value ? s.value[1] : (s.values ?? []).map((v) => v[1]).slice(-1)[0]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ExplorePage({ query }: { query: URLSearchParams }) {
  const q = query.get('q') ?? '';
  const span = RANGES.find(([l]) => l === query.get('range')) ?? RANGES[1];
  const tab = query.get('tab') === 'table' ? 'table' : 'graph';
  // A fixed end (a custom window: the range before it), or now.
  const fixedEnd = endParam(query);
  const [draft, setDraft] = useState(q);
  const [n, setN] = useState(0);
  const [res, setRes] = useState<{ data?: QueryData; error?: string; loading: boolean }>({ loading: false });
  useEffect(() => setDraft(q), [q]);
  const set = (next: Record<string, string | null>) => {
    const p = new URLSearchParams(query);
    for (const [k, v] of Object.entries(next)) {
      if (v === null) p.delete(k);
      else p.set(k, v);
    }
    navigate(`/explore?${p.toString()}`, true);
  };
  useEffect(() => {
    if (!q.trim()) {
      setRes({ loading: false });
      return;
    }
    let live = true;
    setRes((r) => ({ ...r, loading: true }));
    const end = fixedEnd ?? Date.now();
    (tab === 'graph' ? rangeQuery(q, end - span[1], end) : instant(q, end))
      .then((data) => live && setRes({ data, loading: false }))
      .catch((e: Error) => live && setRes({ error: e.message, loading: false }));
    return () => {
      live = false;
    };
  }, [q, span[0], tab, n, fixedEnd]);
  const cols = useMemo(() => columns(res.data), [res.data]);
  const run = (text = draft) => {
    setDraft(text);
    if (text === q) setN((x) => x + 1);
    else set({ q: text });
  };
  return (
    <main class="page">
      <h1>{t('explore')}</h1>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          run();
        }}
      >
        <div class="grow field">
          <span id="promql-label">{t('promql')}</span>
          <QueryEditor value={draft} external={q} invalid={!!res.error && errorPosition(res.error) !== null} onChange={setDraft} onRun={run} />
        </div>
        <label>
          {t('range')}
          <select value={span[0]} onChange={(e) => set({ range: (e.target as HTMLSelectElement).value })}>
            {RANGES.map(([l]) => (
              <option value={l}>{l}</option>
            ))}
          </select>
        </label>
        <EndTimeInput end={fixedEnd} onChange={(v) => set({ end: v })} />
        <button type="submit" class="primary">
          {t('run')}
        </button>
      </form>
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={tab === 'graph'} class={tab === 'graph' ? 'on' : ''} onClick={() => set({ tab: 'graph' })}>
          {t('graph')}
        </button>
        <button type="button" role="tab" aria-selected={tab === 'table'} class={tab === 'table' ? 'on' : ''} onClick={() => set({ tab: 'table' })}>
          {t('table')}
        </button>
      </div>
      {res.error && <ParseError query={q} message={res.error} />}
      {res.loading && <Loading />}
      {!q.trim() && <p class="muted">{t('exploreHint')}</p>}
      {res.data && !res.error && (
        <section class="card">
          {tab === 'graph' ? cols.series.length > 0 ? <Chart x={cols.x} series={cols.series} unit="" height={300} /> : <p class="muted">{t('noData')}</p> : <ResultTable data={res.data} />}
        </section>
      )}
    </main>
  );
}
