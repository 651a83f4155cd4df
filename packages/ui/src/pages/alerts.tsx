// Active alert groups as the dispatcher sees them (GET /api/v2/alerts/groups), with the state of
// each alert and a "silence" link that opens the silence form pre-filled with its labels.

import { useApi } from '../api';
import { ErrorBox, Loading } from '../components';
import { fmtTime, t } from '../i18n';
import { formatMatcher } from '../matchers';

export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  fingerprint: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

interface AlertGroup {
  labels: Record<string, string>;
  receiver: { name: string };
  alerts: GettableAlert[];
}

export function silenceLink(labels: Record<string, string>): string {
  const m = Object.entries(labels).map(([name, value]) => formatMatcher({ name, value, isRegex: false, isEqual: true }));
  return `/silences/new?matchers=${encodeURIComponent(m.join('\n'))}`;
}

export function Labels({ labels }: { labels: Record<string, string> }) {
  return (
    <span class="labels">
      {Object.entries(labels).map(([k, v]) => (
        <span class="label">
          {k}={v}
        </span>
      ))}
    </span>
  );
}

export function AlertsPage() {
  const groups = useApi<AlertGroup[]>('/api/v2/alerts/groups', 5000);
  return (
    <main class="page">
      <h1>{t('activeAlerts')}</h1>
      {groups.error && <ErrorBox error={groups.error} retry={groups.reload} />}
      {!groups.data && !groups.error && <Loading />}
      {groups.data && groups.data.length === 0 && <p class="msg">{t('noAlerts')}</p>}
      {groups.data?.map((g) => (
        <section class="card group">
          <h2>
            <Labels labels={g.labels} /> <small class="muted">→ {g.receiver.name}</small>
          </h2>
          <ul class="alerts">
            {g.alerts.map((a) => {
              const silenced = a.status.silencedBy.length > 0;
              const st = silenced ? 'silenced' : a.status.state === 'suppressed' ? 'suppressed' : 'firing';
              return (
                <li data-alert={a.labels.alertname}>
                  <span class={`badge s-${st === 'firing' ? 'down' : st === 'silenced' ? 'silenced' : 'unknown'}`}>{t(st as 'firing')}</span>{' '}
                  <b>{a.labels.alertname}</b> <Labels labels={a.labels} />
                  <div class="muted">
                    {t('since')} {fmtTime(Date.parse(a.startsAt))}
                    {a.annotations.summary ? ` · ${a.annotations.summary}` : ''}
                  </div>
                  {!silenced && (
                    <a class="button" href={silenceLink(a.labels)}>
                      {t('silence')}
                    </a>
                  )}
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </main>
  );
}
