// The shape every chat robot integration shares: notifications go through the robot's rate
// limiter (merging what queues up), and a batch is rendered (default message or the user's
// template), cut to the robot's size limit and sent; the integration only says how to build the
// body and how to read the robot's answer.

import type { Logger } from 'pino';
import type { Alert } from '../../model/alert.js';
import { resolvedAt } from '../../model/alert.js';
import { templateData } from '../data.js';
import type { Integration, IntegrationContext, NotifyContext, NotifyResult } from '../notifier.js';
import { defaultTemplates, goData, localTimeZone, type NotifyTemplates } from '../tmpl.js';
import { cutUtf8, utf8Bytes } from './cut.js';
import { robotLimiter, type BatchOutcome, type RateLimit, type RobotLimiter } from './limiter.js';
import { renderDefault, type Flavor, type GroupNote, type Language, type Rendered } from './message.js';
import type { HttpClientConfig } from '../../config/fields.js';
import { networkError, RobotClient, robotId, type RobotAnswer } from './robot.js';

/** What a robot's answer means. */
export type Verdict = { kind: 'ok' } | { kind: 'rate-limited'; error: string } | { kind: 'too-large'; error: string } | { kind: 'failed'; retry: boolean; error: string };

/** Rate limits of each robot kind, as documented; tests and benchmarks shorten the window. */
export const ROBOT_RATES: Record<string, RateLimit> = {
  // "20 a minute; over that, limited for 10 minutes" (DingTalk's custom robot documentation).
  dingtalk: { limit: 20, windowMs: 60_000, holdMs: 10 * 60_000 },
  wecom: { limit: 20, windowMs: 60_000 },
  feishu: { limit: 100, windowMs: 60_000 },
  wechat: { limit: 30, windowMs: 60_000 },
};

export interface RenderedBatch extends Rendered {
  readonly groups: readonly GroupNote[];
}

export interface ChatRobotOptions {
  readonly kind: string;
  readonly index: number;
  readonly sendResolved: boolean;
  readonly language: Language;
  /** The zone times are shown in (global.time_zone, else this machine's). */
  readonly timeZone: string;
  readonly flavor: Flavor;
  /** Bytes the message text may take (the robot's limit less the envelope). */
  readonly maxBytes: number;
  /** The robot's address (for its limiter's identity). */
  readonly url: string;
  readonly receiver: string;
  /** A user template for the text (`text:`), Go text/template over Alertmanager's data. */
  readonly textTemplate?: string | undefined;
  readonly titleTemplate?: string | undefined;
  readonly logger: Logger;
  readonly client: RobotClient;
  /** Users' template files (with Alertmanager's defaults). */
  readonly templates?: NotifyTemplates | undefined;
}

/**
 * A robot's options from its receiver (index, receiver, language, templates, logger) and its
 * config's common keys (send_resolved, language, http_config, else the global one); its client
 * keeps `secrets` out of every error it reports.
 */
export function robotOptions(
  ctx: IntegrationContext,
  conf: { send_resolved?: boolean | undefined; language?: Language | undefined; http_config?: HttpClientConfig | undefined },
  o: Pick<ChatRobotOptions, 'kind' | 'flavor' | 'maxBytes' | 'url' | 'textTemplate' | 'titleTemplate'> & {
    secrets: readonly (string | undefined)[];
    /** send_resolved when the config leaves it out (Alertmanager's default for the kind). */
    sendResolved?: boolean;
  },
): ChatRobotOptions {
  return {
    kind: o.kind,
    index: ctx.index,
    sendResolved: conf.send_resolved ?? o.sendResolved ?? true,
    language: conf.language ?? ctx.language ?? 'en',
    timeZone: ctx.global?.time_zone ?? localTimeZone(),
    flavor: o.flavor,
    maxBytes: o.maxBytes,
    url: o.url,
    receiver: ctx.receiver,
    textTemplate: o.textTemplate,
    titleTemplate: o.titleTemplate,
    logger: ctx.logger,
    templates: ctx.templates,
    client: new RobotClient(conf.http_config ?? ctx.global?.http_config, ctx.baseDir, o.secrets),
  };
}

export abstract class ChatRobot implements Integration {
  readonly name: string;
  readonly index: number;
  readonly sendResolved: boolean;
  protected readonly limiter: RobotLimiter;
  private readonly templates: NotifyTemplates;

  constructor(protected readonly o: ChatRobotOptions) {
    this.name = o.kind;
    this.index = o.index;
    this.sendResolved = o.sendResolved;
    this.limiter = robotLimiter(robotId(o.kind, o.url), ROBOT_RATES[o.kind] ?? { limit: 20, windowMs: 60_000 });
    this.templates = o.templates ?? defaultTemplates();
  }

  /** The limiter's counters (tests, benchmarks). */
  get stats() {
    return this.limiter.stats;
  }

  notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const { externalURL, ackURL } = ctx;
    return this.limiter.submit(this, `${this.o.receiver}/${this.name}/${this.index}`, ctx.groupKey, ctx.groupLabels, alerts, (batch) => this.sendBatch(batch, externalURL, ackURL), ctx.signal);
  }

  /** Renders the batch within `maxBytes`. */
  async render(groups: readonly GroupNote[], externalURL: string, maxBytes: number, ackURL?: (fingerprint: string) => string): Promise<RenderedBatch> {
    const now = Date.now();
    const r = renderDefault(groups, { language: this.o.language, flavor: this.o.flavor, externalURL, now, maxBytes, timeZone: this.o.timeZone, ackURL });
    if (this.o.textTemplate || this.o.titleTemplate) {
      const alerts = groups.flatMap((g) => g.alerts);
      const data = goData(templateData(this.o.receiver, groups.length === 1 ? groups[0].groupLabels : {}, alerts, externalURL, now), ackURL);
      if (this.o.titleTemplate) r.title = cutUtf8((await this.templates.render(this.o.titleTemplate, data)).trim(), 256);
      if (this.o.textTemplate) {
        const full = (await this.templates.render(this.o.textTemplate, data)).trim();
        if (utf8Bytes(full) > maxBytes) {
          const note = this.o.language === 'zh-CN' ? '\n…… 消息过长，已截断' : '\n… message cut to fit the size limit';
          r.text = cutUtf8(full, maxBytes - utf8Bytes(note)) + note;
        } else r.text = full;
      }
    }
    return { ...r, groups };
  }

  /** Whether the request for `m` stays within the robot's body limit (checked before sending). */
  protected fits(_m: RenderedBatch): boolean {
    return true;
  }

  /** Sends one rendered message; the answer's verdict. */
  protected abstract send(m: RenderedBatch, signal: AbortSignal): Promise<{ answer: RobotAnswer; verdict: Verdict }>;

  /** Whether a firing alert has one of these severities (mentions are made only then). */
  protected severe(groups: readonly GroupNote[], severities: readonly string[]): boolean {
    const now = Date.now();
    return groups.some((g) => g.alerts.some((a) => !resolvedAt(a, now) && severities.includes(a.labels.severity ?? '')));
  }

  /** One message for the batch: rendered, sent, shortened and sent again when too large. */
  async sendBatch(batch: readonly GroupNote[], externalURL: string, ackURL?: (fingerprint: string) => string): Promise<BatchOutcome> {
    let maxBytes = this.o.maxBytes;
    for (let attempt = 0; ; attempt++) {
      let m: RenderedBatch;
      try {
        m = await this.render(batch, externalURL, maxBytes, ackURL);
      } catch (e) {
        return { kind: 'done', result: { ok: false, retry: false, reason: 'other', error: `template: ${(e as Error).message}` } };
      }
      if (!this.fits(m) && maxBytes > 256) {
        // JSON escaping and the envelope made the body too large: leave more out.
        maxBytes = Math.floor(maxBytes * 0.8);
        attempt--;
        continue;
      }
      let v: Verdict;
      try {
        v = (await this.send(m, AbortSignal.timeout(30_000))).verdict;
      } catch (e) {
        return { kind: 'done', result: { ok: false, retry: true, reason: 'other', error: networkError(e, this.o.client) } };
      }
      if (v.kind === 'ok') return { kind: 'done', result: { ok: true } };
      if (v.kind === 'rate-limited') {
        this.o.logger.warn({ integration: `${this.name}[${this.index}]`, err: v.error, groups: batch.length }, 'the robot says too many messages; holding them to send merged');
        return { kind: 'rate-limited', error: v.error };
      }
      if (v.kind === 'too-large') {
        // The robot measures differently than we do: halve and try again, twice at most.
        if (attempt < 2) {
          maxBytes = Math.floor(maxBytes / 2);
          continue;
        }
        return { kind: 'done', result: { ok: false, retry: false, reason: 'clientError', error: v.error } };
      }
      return { kind: 'done', result: { ok: false, retry: v.retry, reason: v.retry ? 'serverError' : 'clientError', error: v.error } };
    }
  }

  /** Sends one sample message now, bypassing the limiter (`patrol notify test`). */
  async sendNow(groups: readonly GroupNote[], externalURL: string): Promise<{ answer: RobotAnswer | null; verdict: Verdict }> {
    try {
      const m = await this.render(groups, externalURL, this.o.maxBytes);
      return await this.send(m, AbortSignal.timeout(30_000));
    } catch (e) {
      return { answer: null, verdict: { kind: 'failed', retry: true, error: networkError(e, this.o.client) } };
    }
  }

  async close(): Promise<void> {
    await this.o.client.close();
  }
}

/** The robot's answer code and message, as `notify test` prints them. */
export function describeAnswer(a: RobotAnswer | null): string {
  if (!a) return 'no answer';
  const b = a.body as Record<string, unknown> | undefined;
  const code = b?.errcode ?? b?.code ?? b?.StatusCode;
  const msg = b?.errmsg ?? b?.msg ?? b?.StatusMessage;
  return `HTTP ${a.status}${code !== undefined ? `, code ${String(code)}` : ''}${msg !== undefined ? `: ${String(msg)}` : ''}`;
}
