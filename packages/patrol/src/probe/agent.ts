// `patrol agent`: runs the probes the central Patrol assigns to this agent's location and ships
// the results to it. The probes come from GET /api/patrol/v1/agent/probes (re-read every poll;
// applied when the central's generation changes, i.e. after its reload); results go in batches to
// POST /api/patrol/v1/agent/results, an empty batch being the heartbeat. Results the central
// could not take (link down, central down) wait in <data>/agent-buffer.jsonl, oldest first,
// for at most `bufferMaxAgeMs`, and survive a restart of the agent.

import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { parseConfig } from '../config/load.js';
import type { RemoteResult } from './remote.js';
import { compileProbe, runProbe, type CompiledProbe } from './run.js';
import { Scheduler, type Job } from './scheduler.js';
import { Abort } from './types.js';

export interface AgentOptions {
  server: string;
  location: string;
  token: string;
  dataDir: string;
  log: Logger;
  /** How often the probes are re-read (ms). */
  pollMs?: number;
  /** How often results are sent (ms). */
  flushMs?: number;
  /** Results older than this are dropped from the buffer (ms). */
  bufferMaxAgeMs?: number;
  /** The most results kept waiting. */
  bufferMaxResults?: number;
}

const BATCH = 5000;

export class Agent {
  private readonly scheduler = new Scheduler({ maxConcurrency: 512, perHostConcurrency: 128 });
  private readonly stopAll = new Abort();
  private pending: RemoteResult[] = [];
  private generation: number | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  private stopped = false;
  private readonly bufferFile: string;
  private readonly opts: Required<AgentOptions>;
  /** What the central last said when it refused us, to log it once. */
  private lastRefusal = '';
  probes: CompiledProbe[] = [];

  constructor(opts: AgentOptions) {
    this.opts = { pollMs: 10_000, flushMs: 2000, bufferMaxAgeMs: 3600_000, bufferMaxResults: 1_000_000, ...opts };
    this.opts.server = this.opts.server.replace(/\/+$/, '');
    mkdirSync(this.opts.dataDir, { recursive: true });
    this.bufferFile = join(this.opts.dataDir, 'agent-buffer.jsonl');
    this.loadBuffer();
  }

  async start(): Promise<void> {
    await this.poll();
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.flushTimer = setInterval(() => void this.flush(), this.opts.flushMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.stopAll.abort();
    await this.scheduler.stop();
    this.saveBuffer();
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.opts.token}`, 'content-type': 'application/json' };
  }

  /** Reads the location's probes; applies them when the central's generation changed. Never throws. */
  async poll(): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.opts.server}/api/patrol/v1/agent/probes`, { headers: this.headers(), signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      this.refused(`cannot reach ${this.opts.server}: ${(err as Error).message}`);
      return;
    }
    const body = (await res.json().catch(() => null)) as { data?: { generation: number; probes: unknown[] }; error?: string } | null;
    if (!res.ok || !body?.data) {
      this.refused(`the central Patrol refused the probe list (HTTP ${res.status}): ${body?.error ?? 'no reason given'}`);
      return;
    }
    if (body.data.generation === this.generation) return;
    const parsed = parseConfig(JSON.stringify({ probes: body.data.probes }), `${this.opts.server} (location ${this.opts.location})`);
    if (!parsed.ok) {
      this.opts.log.error({ errors: parsed.errors.map(String) }, 'the probes from the central Patrol do not load here; keeping the running ones');
      return;
    }
    const compiled: CompiledProbe[] = [];
    for (const p of parsed.config.probes) {
      try {
        compiled.push(compileProbe(p, process.cwd()));
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, 'a probe from the central Patrol does not prepare here; it is not run');
      }
    }
    this.probes = compiled;
    this.generation = body.data.generation;
    const jobs: Job[] = compiled.map((c) => ({ key: c.cfg.name, intervalMs: c.cfg.interval, host: c.prepared.host, run: () => this.runOne(c) }));
    this.scheduler.setJobs(jobs);
    this.opts.log.info({ probes: compiled.length, generation: this.generation, location: this.opts.location }, 'probes configured from the central Patrol');
  }

  private async runOne(c: CompiledProbe): Promise<void> {
    const r = await runProbe(c, this.stopAll);
    if (this.stopped || !this.probes.includes(c)) return;
    const out: RemoteResult = { probe: r.probe, time: r.time, success: r.success, duration_seconds: r.durationMs / 1000, reason: r.reason, samples: r.samples };
    if (r.degraded) out.degraded = true;
    if (r.status !== undefined) out.status_code = r.status;
    this.pending.push(out);
    if (this.pending.length > this.opts.bufferMaxResults) this.pending.splice(0, this.pending.length - this.opts.bufferMaxResults);
  }

  /** Sends waiting results (oldest first), or a heartbeat. On failure they stay, on disk too. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const cutoff = Date.now() - this.opts.bufferMaxAgeMs;
      const before = this.pending.length;
      this.pending = this.pending.filter((r) => r.time >= cutoff);
      if (this.pending.length < before) this.opts.log.warn({ dropped: before - this.pending.length }, 'results older than the buffer age dropped');
      do {
        const batch = this.pending.slice(0, BATCH);
        const ok = await this.send(batch);
        if (!ok) {
          this.saveBuffer();
          return;
        }
        // Not splice(0, batch.length): a full buffer may have dropped its oldest meanwhile.
        const sent = new Set(batch);
        this.pending = this.pending.filter((r) => !sent.has(r));
      } while (this.pending.length > 0 && !this.stopped);
      this.saveBuffer();
    } finally {
      this.flushing = false;
    }
  }

  private async send(results: RemoteResult[]): Promise<boolean> {
    let res: Response;
    try {
      res = await fetch(`${this.opts.server}/api/patrol/v1/agent/results`, { method: 'POST', headers: this.headers(), body: JSON.stringify({ sent_at: Date.now(), results }), signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      this.refused(`cannot reach ${this.opts.server}: ${(err as Error).message}; ${this.pending.length} results kept`);
      return false;
    }
    const body = (await res.json().catch(() => null)) as { data?: { accepted: number; rejected: string[] }; error?: string } | null;
    if (!res.ok) {
      this.refused(`the central Patrol refused the results (HTTP ${res.status}): ${body?.error ?? 'no reason given'}; ${this.pending.length} results kept`);
      return false;
    }
    if (this.lastRefusal !== '') this.opts.log.info({ sent: results.length }, 'the central Patrol takes results again');
    this.lastRefusal = '';
    const rejected = body?.data?.rejected ?? [];
    if (rejected.length > 0) this.opts.log.warn({ rejected: rejected.slice(0, 10), count: rejected.length }, 'the central Patrol rejected some results');
    return true;
  }

  private refused(msg: string): void {
    const key = msg.replace(/; \d+ results kept$/, '');
    if (key !== this.lastRefusal) this.opts.log.error(msg);
    this.lastRefusal = key;
  }

  private loadBuffer(): void {
    if (!existsSync(this.bufferFile)) return;
    try {
      for (const line of readFileSync(this.bufferFile, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        try {
          this.pending.push(JSON.parse(line) as RemoteResult);
        } catch {
          // A line cut by a crash: skipped.
        }
      }
      if (this.pending.length > 0) this.opts.log.info({ results: this.pending.length }, 'results waiting from before the restart');
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'cannot read the result buffer');
    }
  }

  private saveBuffer(): void {
    try {
      const tmp = `${this.bufferFile}.tmp`;
      writeFileSync(tmp, '');
      for (let i = 0; i < this.pending.length; i += 1000) appendFileSync(tmp, this.pending.slice(i, i + 1000).map((r) => JSON.stringify(r)).join('\n') + '\n');
      renameSync(tmp, this.bufferFile);
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'cannot write the result buffer');
    }
  }
}
