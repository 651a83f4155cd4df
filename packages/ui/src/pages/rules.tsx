// Rule groups from GET /api/v1/rules: each rule's health, last evaluation, error and expression.

import { useEffect } from 'preact/hooks';
import { useApi } from '../api';
import { ErrorBox, Loading } from '../components';
import { fmtTime, t } from '../i18n';

interface Rule {
  name: string;
  query: string;
  type: 'alerting' | 'recording';
  health: string;
  lastError?: string;
  lastEvaluation?: string;
  state?: string;
}

interface Group {
  name: string;
  file: string;
  rules: Rule[];
  lastEvaluation?: string;
}

export function RulesPage() {
  const r = useApi<{ groups: Group[] }>('/api/v1/rules', 15000);
  // /rules#rule-NAME (the alerts page's link): scroll to that rule once the list is there.
  const loaded = !!r.data;
  useEffect(() => {
    const id = decodeURIComponent(window.location.hash.slice(1));
    if (loaded && id) document.getElementById(id)?.scrollIntoView({ block: 'center' });
  }, [loaded]);
  return (
    <main class="page">
      <h1>{t('rules')}</h1>
      {r.error && <ErrorBox error={r.error} retry={r.reload} />}
      {!r.data && !r.error && <Loading />}
      {r.data && r.data.groups.length === 0 && <p class="msg">{t('noRules')}</p>}
      {r.data?.groups.map((g) => (
        <section class="card">
          <h2>
            {g.name} <small class="muted">{g.file}</small>
          </h2>
          <div class="scroll-x">
            <table class="tbl">
              <thead>
                <tr>
                  <th>{t('name')}</th>
                  <th>{t('health')}</th>
                  <th>{t('lastEval')}</th>
                  <th>{t('expr')}</th>
                  <th>{t('lastError')}</th>
                </tr>
              </thead>
              <tbody>
                {g.rules.map((rule) => (
                  <tr id={`rule-${rule.name}`} class={window.location.hash === `#rule-${encodeURIComponent(rule.name)}` ? 'target' : ''}>
                    <td>
                      <b>{rule.name}</b> <small class="muted">{rule.type}{rule.state ? ` · ${rule.state}` : ''}</small>
                    </td>
                    <td>
                      <span class={`badge s-${rule.health === 'ok' ? 'up' : rule.health === 'err' ? 'down' : 'unknown'}`}>{rule.health}</span>
                    </td>
                    <td>{rule.lastEvaluation ? fmtTime(Date.parse(rule.lastEvaluation)) : '—'}</td>
                    <td>
                      <code class="expr">{rule.query}</code>
                    </td>
                    <td class="t-down">{rule.lastError ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
    </main>
  );
}
