// Active alert groups as the dispatcher sees them (GET /api/v2/alerts/groups), each alert with its
// state (firing, silenced, inhibited, held back by a dependency, acknowledged: who and when, from
// GET /api/patrol/v1/alerts), the rules' pending alerts (GET /api/v1/alerts), and per alert:
// acknowledge / un-acknowledge (POST/DELETE /api/patrol/v1/alerts/:fingerprint/ack), "silence"
// (the silence form pre-filled with its labels) and links to its rule and its history.

import { useState } from 'preact/hooks';
import { request, useApi } from '../api';
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

interface PatrolAlert {
  fingerprint: string;
  acknowledged: { by: string; comment: string; at: string; expiresAt: string | null } | null;
  heldBy: { alertname: string; reason: string }[];
  escalation: { step: number; nextAt: string } | null;
}

interface RuleAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: string;
  activeAt?: string;
}

function matcherText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([name, value]) => formatMatcher({ name, value, isRegex: false, isEqual: true }))
    .join('\n');
}

export function silenceLink(labels: Record<string, string>): string {
  return `/silences/new?matchers=${encodeURIComponent(matcherText(labels))}`;
}

/** The history page filtered on one alert's labels. */
export function historyLink(labels: Record<string, string>): string {
  return `/history?matchers=${encodeURIComponent(matcherText(labels))}`;
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

type Shown = 'firing' | 'silenced' | 'inhibited' | 'held' | 'acknowledged' | 'pending';
const BADGE: Record<Shown, string> = { firing: 'down', silenced: 'silenced', inhibited: 'unknown', held: 'unknown', acknowledged: 'ack', pending: 'degraded' };

function shownState(a: GettableAlert, p: PatrolAlert | undefined): Shown {
  if (a.status.silencedBy.length > 0) return 'silenced';
  if (a.status.inhibitedBy.length > 0) return 'inhibited';
  if (p?.heldBy.length) return 'held';
  if (p?.acknowledged) return 'acknowledged';
  return 'firing';
}

function AckForm({ fingerprint, done }: { fingerprint: string; done: (err: string | null) => void }) {
  const [by, setBy] = useState(() => {
    try {
      return localStorage.getItem('patrol.silence.by') ?? '';
    } catch {
      return '';
    }
  });
  const [comment, setComment] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!by.trim()) return;
    setBusy(true);
    try {
      await request(`/api/patrol/v1/alerts/${encodeURIComponent(fingerprint)}/ack`, { method: 'POST', body: JSON.stringify({ by: by.trim(), comment: comment.trim() }) });
      try {
        localStorage.setItem('patrol.silence.by', by.trim());
      } catch {
        // storage disabled
      }
      done(null);
    } catch (err) {
      setBusy(false);
      done((err as Error).message);
    }
  };
  return (
    <form class="inline-form" data-testid="ack-form" onSubmit={(e) => void submit(e)}>
      <label>
        {t('ackBy')} <input value={by} required autoFocus onInput={(e) => setBy((e.target as HTMLInputElement).value)} />
      </label>
      <label>
        {t('comment')} <input value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
      </label>
      <button type="submit" class="primary" disabled={busy || !by.trim()}>
        {t('acknowledge')}
      </button>
      <button type="button" onClick={() => done(null)}>
        {t('cancel')}
      </button>
    </form>
  );
}

function AlertItem({ a, p, reload }: { a: GettableAlert; p: PatrolAlert | undefined; reload: () => void }) {
  const [acking, setAcking] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const st = shownState(a, p);
  const unack = async () => {
    try {
      await request(`/api/patrol/v1/alerts/${encodeURIComponent(a.fingerprint)}/ack`, { method: 'DELETE' });
      setErr(null);
      reload();
    } catch (e) {
      setErr((e as Error).message);
    }
  };
  const k = p?.acknowledged;
  return (
    <li data-alert={a.labels.alertname} data-state={st}>
      <span class={`badge s-${BADGE[st]}`}>{t(st)}</span> <b>{a.labels.alertname}</b> <Labels labels={a.labels} />
      <div class="muted">
        {t('since')} {fmtTime(Date.parse(a.startsAt))}
        {a.annotations.summary ? ` · ${a.annotations.summary}` : ''}
      </div>
      {k && (
        <div class="muted" data-testid="acked">
          {t('ackedBy')} <b>{k.by}</b> · {fmtTime(Date.parse(k.at))}
          {k.comment ? ` · ${k.comment}` : ''}
          {k.expiresAt ? ` · ${t('until')} ${fmtTime(Date.parse(k.expiresAt))}` : ''}
        </div>
      )}
      {p && p.heldBy.length > 0 && (
        <div class="muted">
          {t('heldBy')}: {p.heldBy.map((h) => `${h.alertname} (${h.reason})`).join(', ')}
        </div>
      )}
      {p?.escalation && (
        <div class="muted">
          {t('escalationStep')} {p.escalation.step} · {t('next')} {fmtTime(Date.parse(p.escalation.nextAt))}
        </div>
      )}
      {err && <ErrorBox error={err} />}
      <div class="actions">
        {!k && !acking && a.status.silencedBy.length === 0 && (
          <button type="button" data-testid="ack" onClick={() => setAcking(true)}>
            {t('acknowledge')}
          </button>
        )}
        {k && (
          <button type="button" data-testid="unack" onClick={() => void unack()}>
            {t('unacknowledge')}
          </button>
        )}
        {a.status.silencedBy.length === 0 && (
          <a class="button" href={silenceLink(a.labels)}>
            {t('silence')}
          </a>
        )}
        {a.labels.alertname && <a href={`/rules#rule-${encodeURIComponent(a.labels.alertname)}`}>{t('rule')}</a>}
        <a href={historyLink(a.labels)}>{t('history')}</a>
      </div>
      {acking && (
        <AckForm
          fingerprint={a.fingerprint}
          done={(e) => {
            setAcking(false);
            setErr(e);
            if (!e) reload();
          }}
        />
      )}
    </li>
  );
}

export function AlertsPage() {
  const groups = useApi<AlertGroup[]>('/api/v2/alerts/groups', 5000);
  const patrol = useApi<PatrolAlert[]>('/api/patrol/v1/alerts', 5000);
  const rules = useApi<{ alerts: RuleAlert[] }>('/api/v1/alerts', 5000);
  const byFp = new Map((patrol.data ?? []).map((p) => [p.fingerprint, p]));
  const pending = (rules.data?.alerts ?? []).filter((a) => a.state === 'pending');
  const reload = () => {
    groups.reload();
    patrol.reload();
  };
  return (
    <main class="page">
      <h1>{t('activeAlerts')}</h1>
      {groups.error && <ErrorBox error={groups.error} retry={groups.reload} />}
      {patrol.error && <ErrorBox error={patrol.error} retry={patrol.reload} />}
      {rules.error && <ErrorBox error={rules.error} retry={rules.reload} />}
      {!groups.data && !groups.error && <Loading />}
      {groups.data && groups.data.length === 0 && pending.length === 0 && <p class="msg">{t('noAlerts')}</p>}
      {groups.data?.map((g) => (
        <section class="card group">
          <h2>
            <Labels labels={g.labels} /> <small class="muted">→ {g.receiver.name}</small>
          </h2>
          <ul class="alerts">
            {g.alerts.map((a) => (
              <AlertItem key={a.fingerprint} a={a} p={byFp.get(a.fingerprint)} reload={reload} />
            ))}
          </ul>
        </section>
      ))}
      {pending.length > 0 && (
        <section class="card group" data-testid="pending">
          <h2>{t('pendingRules')}</h2>
          <ul class="alerts">
            {pending.map((a) => (
              <li data-alert={a.labels.alertname} data-state="pending">
                <span class="badge s-degraded">{t('pending')}</span> <b>{a.labels.alertname}</b> <Labels labels={a.labels} />
                <div class="muted">
                  {t('since')} {fmtTime(a.activeAt ? Date.parse(a.activeAt) : null)}
                  {a.annotations.summary ? ` · ${a.annotations.summary}` : ''}
                </div>
                <div class="actions">
                  <a href={`/rules#rule-${encodeURIComponent(a.labels.alertname ?? '')}`}>{t('rule')}</a>
                </div>
              </li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}
