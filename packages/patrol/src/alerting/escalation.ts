// What Patrol's dispatcher does beyond Alertmanager (`alerting.patrol:`), as one component
// beside the dispatcher: history of alert state changes and notification attempts;
// acknowledgement (API and signed links) and escalation to further receivers while nobody
// acknowledges; digests of low-severity alerts on a schedule; dependency-aware suppression. It
// plugs into the dispatcher through its store subscription and the pipeline hooks only.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Component, ConfigContext } from '../component.js';
import type { Config } from '../config/schema.js';
import type { DigestConfig, EscalationPolicyConfig, PatrolAlertingConfig } from '../config/patrol_alerting.js';
import { resolvedAt, type Alert } from '../model/alert.js';
import type { Integration, NotifyContext, NotifyResult } from '../notify/notifier.js';
import { DependencyMuter, type HeldBy } from './dependency.js';
import type { AlertDispatcher } from './dispatcher.js';
import { AlertingDB, type Ack, type AlertEventKind, type EscalationState } from './history.js';
import { historyMetrics } from './metrics.js';
import { matchesAll } from './route.js';

export interface PatrolAlertingOptions {
  dispatcher: AlertDispatcher;
  /** The database file (in the data directory). */
  dbPath: string;
  logger: Logger;
  /** Where the history's write counters are registered. */
  registry?: Registry;
  /** How often timeouts, acknowledgement expiry, escalation and digests are checked (ms). */
  tickInterval?: number;
  now?: () => number;
}

/** The state an alert is in, as history records it. */
type State = 'firing' | 'resolved' | 'silenced' | 'inhibited' | 'held';

/** HMAC of an acknowledgement link: base64url of SHA-256 over `ack:<fingerprint>:<expiry seconds>`. */
export function ackSignature(secret: string, fingerprint: string, expSeconds: number): string {
  return createHmac('sha256', secret).update(`ack:${fingerprint}:${expSeconds}`).digest('base64url');
}

/** The signed, expiring link that acknowledges an alert without logging in. */
export function signedAckURL(externalURL: string, secret: string, fingerprint: string, expiresAt: number): string {
  const exp = Math.floor(expiresAt / 1000);
  return `${externalURL.replace(/\/+$/, '')}/api/patrol/v1/ack/${fingerprint}?exp=${exp}&sig=${ackSignature(secret, fingerprint, exp)}`;
}

/** UTC offset of a time zone at `t` (ms to add to UTC to get the wall clock). */
function tzOffset(tz: string, t: number): number {
  const f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(t)) if (x.type !== 'literal') p[x.type] = Number(x.value);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(t / 1000) * 1000;
}

/** The first run of a digest strictly after `after`: the next full hour, or the next `at` (HH:MM) in its time zone. */
export function nextDigestRun(d: Pick<DigestConfig, 'schedule' | 'at' | 'time_zone'>, after: number): number {
  const off = tzOffset(d.time_zone, after);
  const local = after + off;
  if (d.schedule === 'hourly') {
    const nextLocal = (Math.floor(local / 3_600_000) + 1) * 3_600_000;
    return nextLocal - tzOffset(d.time_zone, nextLocal - off);
  }
  const [hh, mm] = d.at.split(':').map(Number);
  let cand = Math.floor(local / 86_400_000) * 86_400_000 + hh * 3_600_000 + mm * 60_000;
  if (cand <= local) cand += 86_400_000;
  let t = cand - tzOffset(d.time_zone, cand - off);
  // Across a daylight-saving change the offset at the result differs from the one at `after`.
  t = cand - tzOffset(d.time_zone, t);
  return t <= after ? nextDigestRun(d, after + 3_600_000) : t;
}

export interface AckRequest {
  by: string;
  comment?: string;
  /** ms; 0 or absent: the configured default (0 there: until resolved). */
  expiresAt?: number;
}

export class AckError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An acknowledgement given (`ack`) or taken back (null) for an alert. */
export interface AckChange {
  fingerprint: string;
  labels: Record<string, string>;
  ack: Ack | null;
}

export class PatrolAlerting implements Component {
  readonly name = 'alerting-patrol';
  readonly db: AlertingDB;
  private cfg: PatrolAlertingConfig | null = null;
  private readonly d: AlertDispatcher;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly states = new Map<string, State>();
  private readonly acks = new Map<string, Ack>();
  /** Told of every acknowledgement and its removal (the dashboard's live stream). */
  private readonly ackListeners = new Set<(e: AckChange) => void>();
  private readonly escalations = new Map<string, EscalationState>();
  private dependency: DependencyMuter | null = null;
  private secret = '';
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private lastPrune = 0;
  private readonly busy = new Set<string>();
  private stopped = false;

  constructor(private readonly o: PatrolAlertingOptions) {
    this.d = o.dispatcher;
    this.log = o.logger;
    this.now = o.now ?? Date.now;
    this.db = new AlertingDB(o.dbPath);
    if (o.registry) historyMetrics(o.registry, this.db);
    for (const a of this.db.acks()) this.acks.set(a.fingerprint, a);
    for (const e of this.db.escalations()) this.escalations.set(e.fingerprint, e);
    for (const a of this.d.store.list()) this.observe(a);
    this.unsubscribe = this.d.store.subscribe((a) => this.observe(a));
    this.timer = setInterval(() => this.tick(), o.tickInterval ?? 5_000);
    this.timer.unref();
  }

  applyConfig(cfg: Config, _ctx: ConfigContext): void {
    const p = cfg.alerting.patrol;
    this.cfg = p;
    this.db.enabled = p.history.enabled;
    if (p.ack.secret && !p.ack.secret.isEmpty()) {
      this.secret = p.ack.secret.reveal();
    } else {
      let s = this.db.get('ack_secret');
      if (!s) this.db.set('ack_secret', (s = randomBytes(32).toString('hex')));
      this.secret = s;
    }
    this.dependency?.close();
    this.dependency = p.depends_on.length > 0 ? new DependencyMuter(p.depends_on, this.d.store) : null;
    // Escalations follow the policy that matches now (a reload may have changed the list).
    for (const [fp, e] of this.escalations) {
      const a = this.d.store.get(fp);
      const i = a ? this.policyOf(a) : -1;
      if (i < 0) this.dropEscalation(fp);
      else if (i !== e.policy) this.db.putEscalation({ ...e, policy: i });
    }
    for (const a of this.d.store.list()) if (!resolvedAt(a, this.now())) this.startEscalation(a);
    for (const dg of p.digests) if (!this.db.get(`digest:${dg.name}:next`)) this.db.set(`digest:${dg.name}:next`, String(nextDigestRun(dg, this.now())));
    this.d.setHooks({
      hold: this.dependency ?? undefined,
      acked: (a, now) => this.ackOf(a, now) !== undefined,
      muted: (a, by, now) => this.transition(a, by, now),
      passed: (as, now) => {
        for (const a of as) if (!resolvedAt(a, now)) this.transition(a, 'firing', now);
      },
      attempt: (ctx, integ, alerts, r, ms) => this.recordAttempt(ctx, integ, alerts, r, ms, 'group'),
      ackURL: this.linkSigner(),
    });
  }

  // --- state changes and history ---

  private observe(a: Alert): void {
    const now = this.now();
    const st = resolvedAt(a, now) ? 'resolved' : 'firing';
    const old = this.states.get(a.fingerprint);
    // A muted alert stays muted until the pipeline lets it through.
    if (st === 'firing' && old !== undefined && old !== 'resolved') return;
    this.transition(a, st, now);
  }

  private transition(a: Alert, st: State, now: number): void {
    const old = this.states.get(a.fingerprint);
    if (old === st) return;
    this.states.set(a.fingerprint, st);
    let detail: Record<string, unknown> | undefined;
    if (st === 'silenced' || st === 'inhibited') {
      const s = this.d.status(a, now);
      detail = st === 'silenced' ? { silencedBy: s.silencedBy } : { inhibitedBy: s.inhibitedBy };
    } else if (st === 'held') {
      detail = { heldBy: this.heldBy(a, now) };
    }
    this.record(a, st, now, detail);
    if (st === 'resolved') {
      this.dropEscalation(a.fingerprint);
      if (this.acks.delete(a.fingerprint)) this.db.deleteAck(a.fingerprint);
    } else if (old === undefined || old === 'resolved') {
      this.startEscalation(a);
      this.collectForDigest(a);
    }
  }

  private record(a: Pick<Alert, 'fingerprint' | 'labels'>, event: AlertEventKind, ts: number, detail?: Record<string, unknown>): void {
    this.db.recordAlert({ ts, fingerprint: a.fingerprint, event, labels: a.labels, ...(detail ? { detail } : {}) });
  }

  private recordAttempt(ctx: NotifyContext, integ: Integration, alerts: readonly Alert[], r: NotifyResult, ms: number, kind: 'group' | 'escalation' | 'digest'): void {
    this.db.recordNotification({
      ts: this.now(),
      receiver: ctx.receiver,
      integration: `${integ.name}[${integ.index}]`,
      groupKey: ctx.groupKey,
      kind,
      alerts: alerts.map((a) => ({ fingerprint: a.fingerprint, status: resolvedAt(a, ctx.now) ? 'resolved' : 'firing', labels: a.labels })),
      outcome: r.ok ? 'success' : 'failure',
      ...(r.ok ? {} : { error: r.error }),
      durationMs: Math.round(ms * 1000) / 1000,
    });
  }

  // --- acknowledgement ---

  /** The acknowledgement in force for this firing of the alert, if any. */
  ackOf(a: Pick<Alert, 'fingerprint' | 'startsAt'>, now = this.now()): Ack | undefined {
    const k = this.acks.get(a.fingerprint);
    if (!k || k.startsAt !== a.startsAt) return undefined;
    if (k.expiresAt !== 0 && now >= k.expiresAt) return undefined;
    return k;
  }

  ack(fingerprint: string, r: AckRequest): Ack {
    const now = this.now();
    const a = this.d.store.get(fingerprint);
    if (!a || resolvedAt(a, now)) throw new AckError(404, `alert ${fingerprint} not found or not firing`);
    if (!r.by.trim()) throw new AckError(400, 'who acknowledges ("by") is required');
    let expiresAt = r.expiresAt ?? 0;
    if (expiresAt === 0 && this.cfg && this.cfg.ack.default_expiry > 0) expiresAt = now + this.cfg.ack.default_expiry;
    if (expiresAt !== 0 && expiresAt <= now) throw new AckError(400, 'expiresAt is in the past');
    const k: Ack = { fingerprint, startsAt: a.startsAt, by: r.by.slice(0, 200), comment: (r.comment ?? '').slice(0, 2000), at: now, expiresAt };
    this.db.putAck(k);
    this.acks.set(fingerprint, k);
    this.record(a, 'acknowledged', now, { by: k.by, comment: k.comment, expiresAt: k.expiresAt });
    this.tellAck({ fingerprint, labels: a.labels, ack: k });
    return k;
  }

  /** Subscribes to acknowledgements given and taken back; returns the unsubscribe function. */
  onAck(fn: (e: AckChange) => void): () => void {
    this.ackListeners.add(fn);
    return () => this.ackListeners.delete(fn);
  }

  private tellAck(e: AckChange): void {
    for (const fn of this.ackListeners) {
      try {
        fn(e);
      } catch (err) {
        this.log.warn({ err }, 'acknowledgement listener failed');
      }
    }
  }

  unack(fingerprint: string, by: string): boolean {
    const k = this.acks.get(fingerprint);
    if (!k) return false;
    this.acks.delete(fingerprint);
    this.db.deleteAck(fingerprint);
    const a = this.d.store.get(fingerprint);
    if (a) this.record(a, 'unacknowledged', this.now(), { by });
    this.tellAck({ fingerprint, labels: a?.labels ?? {}, ack: null });
    return true;
  }

  /** The signed acknowledgement link for an alert (valid for ack.link_validity), for notification templates. */
  ackURL(fingerprint: string): string {
    const validity = this.cfg?.ack.link_validity ?? 24 * 3600_000;
    return signedAckURL(this.d.externalURL, this.secret, fingerprint, this.now() + validity);
  }

  /** What messages sign acknowledgement links with, unless ack.links is off. */
  private linkSigner(): ((fingerprint: string) => string) | undefined {
    return this.cfg?.ack.links ? (fp) => this.ackURL(fp) : undefined;
  }

  /** Checks a link's signature and expiry; throws an AckError (403) when it does not hold. */
  verifyLink(fingerprint: string, exp: string, sig: string): void {
    const e = Number(exp);
    if (!/^\d{1,12}$/.test(exp) || !Number.isFinite(e)) throw new AckError(403, 'invalid acknowledgement link');
    const want = Buffer.from(ackSignature(this.secret, fingerprint, e));
    const got = Buffer.from(sig);
    if (!this.secret || want.length !== got.length || !timingSafeEqual(want, got)) throw new AckError(403, 'invalid acknowledgement link');
    if (e * 1000 <= this.now()) throw new AckError(403, 'acknowledgement link expired');
  }

  // --- escalation ---

  private policyOf(a: Pick<Alert, 'labels'>): number {
    return this.cfg ? this.cfg.escalations.findIndex((p) => matchesAll(p.matchers, a.labels)) : -1;
  }

  private startEscalation(a: Alert): void {
    if (!this.cfg || this.cfg.escalations.length === 0) return;
    const e = this.escalations.get(a.fingerprint);
    if (e && e.startsAt === a.startsAt) return;
    const i = this.policyOf(a);
    if (i < 0) return;
    const s: EscalationState = { fingerprint: a.fingerprint, startsAt: a.startsAt, policy: i, step: 0, nextAt: a.startsAt + this.cfg.escalations[i].ack_within };
    this.escalations.set(a.fingerprint, s);
    this.db.putEscalation(s);
  }

  private dropEscalation(fp: string): void {
    if (this.escalations.delete(fp)) this.db.deleteEscalation(fp);
  }

  escalationOf(fp: string): EscalationState | undefined {
    return this.escalations.get(fp);
  }

  private async escalate(a: Alert, e: EscalationState, p: EscalationPolicyConfig, now: number): Promise<void> {
    const receiver = p.receivers[Math.min(e.step, p.receivers.length - 1)];
    const next: EscalationState = { ...e, step: e.step + 1, nextAt: now + p.repeat_interval };
    this.escalations.set(a.fingerprint, next);
    this.db.putEscalation(next);
    this.record(a, 'escalated', now, { step: next.step, receiver });
    const ok = await this.send(receiver, [a], 'escalation', `{}/escalation:{fingerprint="${a.fingerprint}"}`, { ...a.labels });
    if (!ok) this.log.warn({ receiver, fingerprint: a.fingerprint, step: next.step }, 'escalation notification failed');
  }

  private async send(receiverName: string, alerts: Alert[], kind: 'escalation' | 'digest', groupKey: string, groupLabels: Record<string, string>): Promise<boolean> {
    const recv = this.d.receiver(receiverName);
    if (!recv) {
      this.log.error({ receiver: receiverName }, 'no receiver of that name');
      return false;
    }
    const now = this.now();
    const ctx: NotifyContext = { receiver: receiverName, groupKey, groupLabels, externalURL: this.d.externalURL, now, signal: AbortSignal.timeout(30_000), ackURL: this.linkSigner() };
    const rs = await Promise.all(
      recv.integrations.map(async (integ) => {
        const sent = integ.sendResolved ? alerts : alerts.filter((a) => !resolvedAt(a, now));
        if (sent.length === 0) return true;
        const start = performance.now();
        let r: NotifyResult;
        try {
          r = await integ.notify(ctx, sent);
        } catch (err) {
          r = { ok: false, retry: false, error: String(err) };
        }
        this.recordAttempt(ctx, integ, sent, r, performance.now() - start, kind);
        return r.ok;
      }),
    );
    return rs.every(Boolean);
  }

  // --- digests ---

  private collectForDigest(a: Alert): void {
    for (const dg of this.cfg?.digests ?? []) if (matchesAll(dg.matchers, a.labels)) this.db.putDigestItem(dg.name, a.fingerprint, a);
  }

  /** Sends a digest now: the alerts collected since the last one (firing ones stay for the next). */
  async runDigest(name: string): Promise<number> {
    const dg = this.cfg?.digests.find((x) => x.name === name);
    if (!dg) return 0;
    const now = this.now();
    const items = this.db.digestItems(name);
    const alerts = items.map((it) => this.d.store.get(it.fingerprint) ?? (it.alert as Alert));
    if (alerts.length > 0) {
      const ok = await this.send(dg.receiver, alerts, 'digest', `{}/digest:{name=${JSON.stringify(name)}}`, { digest: name });
      if (!ok) return -1;
      for (const a of alerts) if (resolvedAt(a, now) || !this.d.store.get(a.fingerprint)) this.db.deleteDigestItem(name, a.fingerprint);
    }
    return alerts.length;
  }

  // --- dependency ---

  heldBy(a: Alert, now = this.now()): HeldBy[] {
    return this.dependency?.heldBy(a, now) ?? [];
  }

  // --- the periodic work ---

  /** Timeouts, acknowledgement expiry, escalation steps, digests and retention (runs every tickInterval). */
  tick(): void {
    if (this.stopped || !this.cfg) return;
    const now = this.now();
    for (const [fp, st] of this.states) {
      if (st === 'resolved') {
        if (!this.d.store.get(fp)) this.states.delete(fp);
        continue;
      }
      const a = this.d.store.get(fp);
      if (!a) this.states.delete(fp);
      else if (resolvedAt(a, now)) this.transition(a, 'resolved', now);
    }
    for (const [fp, k] of this.acks) {
      if (k.expiresAt !== 0 && now >= k.expiresAt) {
        this.acks.delete(fp);
        this.db.deleteAck(fp);
        const a = this.d.store.get(fp);
        if (a) this.record(a, 'unacknowledged', now, { reason: 'expired' });
      }
    }
    for (const [fp, e] of this.escalations) {
      if (now < e.nextAt || this.busy.has(fp)) continue;
      const a = this.d.store.get(fp);
      const p = this.cfg.escalations[e.policy];
      if (!a || resolvedAt(a, now) || !p) {
        this.dropEscalation(fp);
        continue;
      }
      if (this.ackOf(a, now)) continue;
      // Silenced, inhibited or held back: no escalation while muted.
      if (this.d.status(a, now).state === 'suppressed' || this.heldBy(a, now).length > 0) continue;
      this.busy.add(fp);
      void this.escalate(a, e, p, now)
        .catch((err: unknown) => this.log.error({ err }, 'escalation failed'))
        .finally(() => this.busy.delete(fp));
    }
    for (const dg of this.cfg.digests) {
      const key = `digest:${dg.name}:next`;
      const next = Number(this.db.get(key) ?? 0);
      if (now < next || this.busy.has(key)) continue;
      this.db.set(key, String(nextDigestRun(dg, now)));
      this.busy.add(key);
      void this.runDigest(dg.name)
        .catch((err: unknown) => this.log.error({ err }, 'digest failed'))
        .finally(() => this.busy.delete(key));
    }
    this.dependency?.gc(now);
    if (now - this.lastPrune > 10 * 60_000) {
      this.lastPrune = now;
      this.db.prune(now - this.cfg.history.retention);
    }
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.unsubscribe();
    this.dependency?.close();
    this.d.setHooks(undefined);
    this.db.close();
  }
}
