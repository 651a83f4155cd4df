// One external Alertmanager as an AlertSink: a bounded queue and one POST in flight at a time,
// so a slow or dead Alertmanager holds up nothing but its own queue. As Prometheus's notifier
// does it: when the queue is full the oldest alerts make room for the new ones; batches of at
// most `maxBatchSize` alerts go to <scheme>://<address><path_prefix>/api/v2/alerts; a POST that
// fails or times out drops its batch (the rules resend firing alerts every resend delay anyway).
// Every dropped alert is counted.

import { STATUS_CODES } from 'node:http';
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import type { AlertSink, PostableAlert } from '../model/alert.js';
import type { RequestHeaders } from '../scrape/httpclient.js';
import { VERSION } from '../version.js';
import { forgetAlertmanager, type NotifierMetrics } from './metrics.js';

export const USER_AGENT = `Patrol/${VERSION}`;

/** How a set's Alertmanagers are reached: shared by all of them (one HTTP client per set, as Prometheus). */
export interface Transport {
  dispatcher: Dispatcher;
  headers: RequestHeaders;
  /** Milliseconds a POST may take (the set's `timeout`). */
  timeoutMs: number;
}

export interface QueueSettings {
  /** Prometheus's --alertmanager.notification-queue-capacity, 10,000. */
  capacity: number;
  /** Alerts per POST (Prometheus 2.x: 64). */
  maxBatchSize: number;
}

export class AlertmanagerClient implements AlertSink {
  private queue: PostableAlert[] = [];
  private running: Promise<void> | null = null;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(
    /** The URL alerts are posted to; also the `alertmanager` label of the metrics. */
    readonly name: string,
    private readonly transport: Transport,
    private readonly settings: QueueSettings,
    private readonly metrics: NotifierMetrics,
    private readonly log: Logger,
  ) {
    // Present from the start at 0, as Prometheus initialises them.
    for (const c of [metrics.sent, metrics.errors, metrics.dropped]) c.inc({ alertmanager: name }, 0);
    metrics.queueLength.set({ alertmanager: name }, 0);
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Queues the alerts (never blocks, never throws) and starts sending if idle. */
  send(alerts: readonly PostableAlert[]): void {
    if (this.stopped || alerts.length === 0) return;
    const cap = this.settings.capacity;
    let dropped = 0;
    let start = 0;
    if (alerts.length > cap) {
      start = alerts.length - cap;
      dropped += start;
      this.log.warn({ alertmanager: this.name, count: start }, 'alert batch larger than queue capacity, dropping alerts');
    }
    const over = this.queue.length + (alerts.length - start) - cap;
    if (over > 0) {
      dropped += Math.min(over, this.queue.length);
      this.queue.splice(0, over);
      this.log.warn({ alertmanager: this.name, count: over }, 'alert notification queue full, dropping alerts');
    }
    for (let i = start; i < alerts.length; i++) this.queue.push(alerts[i]);
    this.metrics.queueLength.set({ alertmanager: this.name }, this.queue.length);
    if (dropped > 0) this.metrics.dropped.inc({ alertmanager: this.name }, dropped);
    this.running ??= this.loop().finally(() => {
      this.running = null;
    });
  }

  private async loop(): Promise<void> {
    while (!this.stopped && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.settings.maxBatchSize);
      this.metrics.queueLength.set({ alertmanager: this.name }, this.queue.length);
      const ok = await this.post(batch);
      if (!ok && !this.stopped) this.metrics.dropped.inc({ alertmanager: this.name }, batch.length);
    }
  }

  /** One POST; true when the Alertmanager answered 2xx. Never throws. */
  private async post(batch: PostableAlert[]): Promise<boolean> {
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.transport.timeoutMs);
    try {
      const headers: Record<string, string | string[]> = { 'content-type': 'application/json', 'user-agent': USER_AGENT };
      const signal = AbortSignal.any([this.abort.signal, timeout]);
      if (this.transport.headers.apply(headers)) await this.transport.headers.addToken(headers, signal);
      const res = await request(this.name, { method: 'POST', headers, body: JSON.stringify(batch), dispatcher: this.transport.dispatcher, signal });
      await res.body.dump().catch(() => undefined);
      if (Math.floor(res.statusCode / 100) !== 2) throw new Error(`bad response status ${res.statusCode} ${STATUS_CODES[res.statusCode] ?? ''}`.trimEnd());
      this.metrics.latency.observe({ alertmanager: this.name }, (performance.now() - started) / 1000);
      this.metrics.sent.inc({ alertmanager: this.name }, batch.length);
      return true;
    } catch (e) {
      if (this.stopped) return false;
      const err = e as Error & { cause?: Error };
      const reason = timeout.aborted ? `timeout after ${this.transport.timeoutMs / 1000}s` : (err.cause?.message ?? err.message);
      this.log.error({ alertmanager: this.name, count: batch.length, err: reason }, 'error sending alerts');
      this.metrics.errors.inc({ alertmanager: this.name }, batch.length);
      return false;
    }
  }

  /**
   * Stops sending: the POST in flight is abandoned and what is still queued is dropped and
   * counted, so a shutdown or reload never waits on a slow Alertmanager. The metrics series go away.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.abort.abort();
    if (this.queue.length > 0) {
      this.log.warn({ alertmanager: this.name, count: this.queue.length }, 'alert notification queue not drained, dropping alerts');
      this.metrics.dropped.inc({ alertmanager: this.name }, this.queue.length);
    }
    this.queue = [];
    await this.running;
    forgetAlertmanager(this.metrics, this.name);
  }
}
