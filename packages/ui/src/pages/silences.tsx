// Silences: the list with edit and expire, and the form (/silences/new?matchers=…, or
// /silences/ID/edit which loads the silence and saves it with its id, Alertmanager's v2 update)
// that previews which active alerts its matchers would silence (the server's own matching,
// GET /api/v2/alerts?filter) and refuses to save an invalid matcher, saying why.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { request, useApi } from '../api';
import { ErrorBox, Loading } from '../components';
import { fmtTime, t } from '../i18n';
import { formatMatcher, parseMatchers, type Matcher } from '../matchers';
import { navigate } from '../router';
import { Labels, type GettableAlert } from './alerts';
import { localInput } from './history';

interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
  status: { state: 'active' | 'pending' | 'expired' };
}

export function SilencesPage({ path, query }: { path: string; query: URLSearchParams }) {
  if (path === '/silences/new') return <SilenceForm initial={query.get('matchers') ?? ''} />;
  const edit = /^\/silences\/([^/]+)\/edit$/.exec(path);
  if (edit) return <EditSilence id={decodeURIComponent(edit[1])} />;
  return <SilenceList />;
}

function SilenceList() {
  const list = useApi<Silence[]>('/api/v2/silences', 10000);
  const [err, setErr] = useState<string | null>(null);
  const expire = async (id: string) => {
    try {
      await request(`/api/v2/silence/${id}`, { method: 'DELETE' });
      setErr(null);
      list.reload();
    } catch (e) {
      setErr((e as Error).message);
    }
  };
  const shown = (list.data ?? []).filter((s) => s.status.state !== 'expired').concat((list.data ?? []).filter((s) => s.status.state === 'expired').slice(0, 20));
  return (
    <main class="page">
      <h1>
        {t('silences')}{' '}
        <a class="button" href="/silences/new">
          {t('newSilence')}
        </a>
      </h1>
      {list.error && <ErrorBox error={list.error} retry={list.reload} />}
      {err && <ErrorBox error={err} />}
      {!list.data && !list.error && <Loading />}
      {list.data && shown.length === 0 && <p class="msg">{t('noSilences')}</p>}
      {shown.length > 0 && (
        <div class="scroll-x">
          <table class="tbl">
            <thead>
              <tr>
                <th>{t('status')}</th>
                <th>{t('matchers').split(' (')[0].split('（')[0]}</th>
                <th>{t('startsAt')}</th>
                <th>{t('endsAt')}</th>
                <th>{t('createdBy')}</th>
                <th>{t('comment')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {shown.map((s) => (
                <tr data-silence={s.id}>
                  <td>
                    <span class={`badge s-${s.status.state === 'active' ? 'silenced' : 'unknown'}`}>{s.status.state}</span>
                  </td>
                  <td>
                    {s.matchers.map((m) => (
                      <code class="label">{formatMatcher(m)}</code>
                    ))}
                  </td>
                  <td>{fmtTime(Date.parse(s.startsAt))}</td>
                  <td>{fmtTime(Date.parse(s.endsAt))}</td>
                  <td>{s.createdBy}</td>
                  <td>{s.comment}</td>
                  <td class="row-actions">
                    <a class="button" href={`/silences/${encodeURIComponent(s.id)}/edit`}>
                      {s.status.state === 'expired' ? t('recreate') : t('edit')}
                    </a>
                    {s.status.state !== 'expired' && (
                      <button type="button" onClick={() => void expire(s.id)}>
                        {t('expire')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}

const DURATIONS: [string, number][] = [
  ['1h', 3600_000],
  ['2h', 7200_000],
  ['4h', 4 * 3600_000],
  ['1d', 86400_000],
  ['7d', 7 * 86400_000],
];

function EditSilence({ id }: { id: string }) {
  const s = useApi<Silence>(`/api/v2/silence/${encodeURIComponent(id)}`);
  if (s.error) {
    return (
      <main class="page">
        <h1>{t('editSilence')}</h1>
        <ErrorBox error={s.error} retry={s.reload} />
      </main>
    );
  }
  if (!s.data) return <Loading />;
  return <SilenceForm initial={s.data.matchers.map(formatMatcher).join('\n')} existing={s.data} />;
}


function SilenceForm({ initial, existing }: { initial: string; existing?: Silence }) {
  const [text, setText] = useState(initial);
  const [dur, setDur] = useState(7200_000);
  // Editing: the silence's own end, changeable (an expired one gets a fresh end from now).
  const [endsAt, setEndsAt] = useState(() => (existing ? (existing.status.state === 'expired' ? Date.now() + 7200_000 : Date.parse(existing.endsAt)) : 0));
  const [by, setBy] = useState(() => existing?.createdBy ?? localStorage.getItem('patrol.silence.by') ?? '');
  const [comment, setComment] = useState(existing?.comment ?? '');
  const [submitErr, setSubmitErr] = useState<string | null>(null);
  const [preview, setPreview] = useState<{ alerts: GettableAlert[] | null; error: string | null }>({ alerts: null, error: null });
  const parsed = useMemo(() => parseMatchers(text), [text]);
  const problems = [...parsed.errors];
  if (parsed.matchers.length === 0 && parsed.errors.length === 0) problems.push(t('needMatcher'));
  if (parsed.matchers.length > 0 && parsed.matchers.every((m) => !m.isRegex ? m.value === '' : new RegExp(`^(?:${m.value})$`).test(''))) problems.push(t('needMatcher'));

  useEffect(() => {
    if (parsed.errors.length > 0 || parsed.matchers.length === 0) {
      setPreview({ alerts: null, error: null });
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      const q = parsed.matchers.map((m) => `filter=${encodeURIComponent(formatMatcher(m))}`).join('&');
      request<GettableAlert[]>(`/api/v2/alerts?${q}`)
        .then((alerts) => live && setPreview({ alerts, error: null }))
        .catch((e: Error) => live && setPreview({ alerts: null, error: e.message }));
    }, 250);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [parsed]);

  if (existing && !(endsAt > Date.now())) problems.push(t('endInPast'));
  const missing = [by.trim() === '' ? t('needCreator') : '', comment.trim() === '' ? t('needComment') : ''].filter(Boolean);
  const canSave = problems.length === 0 && preview.error === null && missing.length === 0;
  const save = async (e: Event) => {
    e.preventDefault();
    if (!canSave) return;
    const now = Date.now();
    try {
      // An update keeps the id and the start (Alertmanager expires the old one and makes a new
      // one when the change cannot apply in place, e.g. other matchers on an active silence).
      const keep = existing && existing.status.state !== 'expired';
      const start = keep ? existing.startsAt : new Date(now).toISOString();
      const end = existing ? new Date(endsAt).toISOString() : new Date(now + dur).toISOString();
      await request<{ silenceID: string }>('/api/v2/silences', {
        method: 'POST',
        body: JSON.stringify({ ...(keep ? { id: existing.id } : {}), matchers: parsed.matchers, startsAt: start, endsAt: end, createdBy: by.trim(), comment: comment.trim() }),
      });
      try {
        localStorage.setItem('patrol.silence.by', by.trim());
      } catch {
        // storage disabled
      }
      navigate('/silences');
    } catch (err) {
      setSubmitErr((err as Error).message);
    }
  };

  return (
    <main class="page">
      <h1>{existing ? t('editSilence') : t('newSilence')}</h1>
      <form class="form" onSubmit={(e) => void save(e)}>
        <label>
          {t('matchers')}
          <textarea rows={5} value={text} spellcheck={false} aria-invalid={problems.length > 0} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        </label>
        {problems.length > 0 && (
          <ul class="problems" role="alert" data-testid="matcher-errors">
            {problems.map((p) => (
              <li>
                {t('invalidMatcher')}: {p}
              </li>
            ))}
          </ul>
        )}
        {preview.error && <ErrorBox error={preview.error} />}
        {existing ? (
          <label>
            {t('endsAt')}
            <input type="datetime-local" data-testid="ends-at" value={localInput(endsAt)} onInput={(e) => setEndsAt(new Date((e.target as HTMLInputElement).value).getTime())} />
          </label>
        ) : (
          <label>
            {t('duration')}
            <select value={String(dur)} onChange={(e) => setDur(Number((e.target as HTMLSelectElement).value))}>
              {DURATIONS.map(([l, ms]) => (
                <option value={String(ms)}>{l}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          {t('createdBy')}
          <input value={by} onInput={(e) => setBy((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          {t('comment')}
          <input value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
        </label>
        <section class="card" data-testid="affected">
          <h2>{t('affected')}</h2>
          {preview.alerts && preview.alerts.length === 0 && <p class="muted">{t('affectedNone')}</p>}
          {preview.alerts && preview.alerts.length > 0 && (
            <ul class="alerts">
              {preview.alerts.map((a) => (
                <li>
                  <b>{a.labels.alertname}</b> <Labels labels={a.labels} />
                </li>
              ))}
            </ul>
          )}
        </section>
        {missing.length > 0 && problems.length === 0 && (
          <p class="muted" data-testid="missing">
            {missing.join(' ')}
          </p>
        )}
        {submitErr && <ErrorBox error={submitErr} />}
        <div class="actions">
          <button type="submit" class="primary" disabled={!canSave}>
            {existing ? t('saveSilence') : t('save')}
          </button>
          <a class="button" href="/silences">
            {t('cancel')}
          </a>
        </div>
      </form>
    </main>
  );
}
