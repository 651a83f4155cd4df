// The audit log (admin only): every write with who made it, when, from where and what it
// changed, newest first (GET /api/patrol/v1/audit). Filtered by actor and action (method and the
// path's start); the filter lives in the URL (/audit?who=…&method=…&path=…). A row opens into the
// request body and the changed thing's fields before and after (secrets masked by the server).

import { useState } from 'preact/hooks';
import { request, Store, useApi, useStore } from '../api';
import { ErrorBox, Loading } from '../components';
import { fmtTime, t } from '../i18n';
import { location, navigate } from '../router';

export interface AuditEntry {
  id: number;
  at: string;
  who: string;
  via: string;
  remote: string;
  method: string;
  path: string;
  status: number;
  what: unknown;
  before: unknown;
  after: unknown;
}

// Whether the caller may read the audit log: an admin, or anyone when server.auth is off
// (whoami answers 404). Asked once, and again on the next page after a "not logged in" answer
// (the login page navigates on without a reload). undefined until known.
const adminStore = new Store<boolean | undefined>(undefined);
let askedAt: string | null = null;
let anonymous = false;

/** True when the caller is an admin (the navigation shows the audit page only then); undefined until known. */
export function useIsAdmin(): boolean | undefined {
  const v = useStore(adminStore);
  const here = useStore(location);
  if (askedAt === null || (anonymous && askedAt !== here)) {
    askedAt = here;
    anonymous = false;
    request<{ role: string }>('/api/patrol/v1/auth/whoami')
      .then((w) => adminStore.set(w.role === 'admin'))
      .catch((e: { status?: number }) => {
        anonymous = e.status === 401;
        adminStore.set(e.status === 404);
      });
  }
  return v;
}

/** Leaf values of a JSON value by path ("a.b[0]"); a non-object is one leaf at "". */
export function flatten(v: unknown, at = '', out = new Map<string, string>()): Map<string, string> {
  if (v !== null && typeof v === 'object') {
    const entries = Array.isArray(v) ? v.map((x, i) => [`[${i}]`, x] as const) : Object.entries(v).map(([k, x]) => [at ? `.${k}` : k, x] as const);
    if (entries.length === 0) out.set(at, Array.isArray(v) ? '[]' : '{}');
    for (const [k, x] of entries) flatten(x, `${at}${k}`, out);
  } else if (v !== null && v !== undefined) out.set(at, typeof v === 'string' ? v : JSON.stringify(v));
  return out;
}

/** The fields that differ between before and after: [path, before, after] ("" for absent). */
export function changedFields(before: unknown, after: unknown): [string, string | undefined, string | undefined][] {
  const b = flatten(before);
  const a = flatten(after);
  const keys = [...new Set([...b.keys(), ...a.keys()])];
  return keys.filter((k) => b.get(k) !== a.get(k)).map((k) => [k || '(value)', b.get(k), a.get(k)]);
}

function Change({ e }: { e: AuditEntry }) {
  const rows = changedFields(e.before, e.after);
  const kind = e.before === null && e.after === null ? null : e.before === null ? t('auditCreated') : e.after === null ? t('auditDeleted') : t('auditChanged');
  return (
    <div class="audit-detail">
      {kind && (
        <table class="tbl audit-diff" data-testid="audit-diff">
          <caption>{kind}</caption>
          <thead>
            <tr>
              <th>{t('auditField')}</th>
              <th>{t('auditBefore')}</th>
              <th>{t('auditAfter')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.length === 0 && (
              <tr>
                <td colSpan={3}>{t('auditNoDiff')}</td>
              </tr>
            )}
            {rows.map(([k, b, a]) => (
              <tr>
                <td class="expr">{k}</td>
                <td class="expr del">{b ?? ''}</td>
                <td class="expr ins">{a ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {e.what !== null && (
        <details>
          <summary>{t('auditRequest')}</summary>
          <pre class="expr">{JSON.stringify(e.what, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

/** Entries per page. */
const PAGE = 100;

export function AuditPage({ query }: { query: URLSearchParams }) {
  const who = query.get('who') ?? '';
  const method = query.get('method') ?? '';
  const path = query.get('path') ?? '';
  const beforeId = query.get('before_id') ?? '';
  const [form, setForm] = useState({ who, method, path });
  const [open, setOpen] = useState<number | null>(null);
  const qs = new URLSearchParams({ limit: String(PAGE), ...(who && { who }), ...(method && { method }), ...(path && { path }), ...(beforeId && { before_id: beforeId }) });
  /** This view's filter on another page: the newest entries, or those older than `id`. */
  const pageUrl = (id?: number) => {
    const q = new URLSearchParams({ ...(who && { who }), ...(method && { method }), ...(path && { path }), ...(id !== undefined && { before_id: String(id) }) });
    return q.size ? `/audit?${q}` : '/audit';
  };
  const log = useApi<AuditEntry[]>(`/api/patrol/v1/audit?${qs}`, 30_000);
  const apply = (e: Event) => {
    e.preventDefault();
    const q = new URLSearchParams(Object.entries(form).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()]));
    navigate(`/audit${q.size ? `?${q}` : ''}`);
  };
  const set = (k: keyof typeof form) => (e: Event) => setForm({ ...form, [k]: (e.target as HTMLInputElement).value });
  return (
    <main class="page">
      <h1>{t('audit')}</h1>
      <form class="filters" onSubmit={apply}>
        <label>
          {t('auditActor')}
          <input name="who" value={form.who} onInput={set('who')} placeholder="admin1, token:ci" />
        </label>
        <label>
          {t('auditMethod')}
          <select name="method" value={form.method} onChange={set('method')}>
            <option value="">{t('all')}</option>
            {['POST', 'PUT', 'DELETE'].map((m) => (
              <option value={m}>{m}</option>
            ))}
          </select>
        </label>
        <label class="grow">
          {t('auditPath')}
          <input name="path" value={form.path} onInput={set('path')} placeholder="/api/patrol/v1/config/probes" />
        </label>
        <button type="submit">{t('apply')}</button>
      </form>
      {log.error && <ErrorBox error={log.error.includes(': 403 ') ? `${t('auditAdminOnly')} (${log.error})` : log.error} retry={log.reload} />}
      {!log.data && !log.error && <Loading />}
      {log.data && log.data.length === 0 && <p class="msg">{t('auditNone')}</p>}
      {log.data && log.data.length > 0 && (
        <table class="tbl audit">
          <thead>
            <tr>
              <th>{t('auditWhen')}</th>
              <th>{t('auditActor')}</th>
              <th>{t('auditAction')}</th>
              <th>{t('auditStatus')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {log.data.map((e) => [
              <tr key={e.id} data-testid="audit-row">
                <td>{fmtTime(Date.parse(e.at))}</td>
                <td>
                  <a href={`/audit?who=${encodeURIComponent(e.who)}`}>{e.who}</a> <span class="muted">{`${e.via} · ${e.remote}`}</span>
                </td>
                <td class="expr">{`${e.method} ${e.path}`}</td>
                <td>{e.status}</td>
                <td>
                  <button type="button" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                    {t('details')}
                  </button>
                </td>
              </tr>,
              open === e.id && (
                <tr key={`${e.id}-d`}>
                  <td colSpan={5}>
                    <Change e={e} />
                  </td>
                </tr>
              ),
            ])}
          </tbody>
        </table>
      )}
      <p class="row-actions">
        {beforeId && <a href={pageUrl()}>{t('auditNewest')}</a>}
        {log.data && log.data.length === PAGE && (
          <a href={pageUrl(log.data[log.data.length - 1].id)} data-testid="audit-older">
            {t('auditOlder')}
          </a>
        )}
      </p>
    </main>
  );
}
