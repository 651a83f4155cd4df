import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstDue, Scheduler, stableHash, type Job } from './scheduler.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('scheduler', () => {
  it('offsets are stable and spread over the interval', () => {
    assert.equal(stableHash('api-health'), stableHash('api-health'));
    const now = 1_000_000_000_000;
    const offsets = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const t = firstDue(`probe-${i}`, 1000, now);
      assert.ok(t > now && t <= now + 1000);
      offsets.add(Math.floor((t % 1000) / 100));
    }
    // 1000 probes fall into every tenth of the interval.
    assert.equal(offsets.size, 10);
    assert.equal(firstDue('x', 1000, now), firstDue('x', 1000, now));
  });

  it('never overlaps runs of one job and counts the skipped slots', async () => {
    const s = new Scheduler({ maxConcurrency: 10, perHostConcurrency: 10 });
    let running = 0;
    let maxRunning = 0;
    let runs = 0;
    const job: Job = {
      key: 'slow',
      intervalMs: 20,
      host: 'h',
      run: async () => {
        running++;
        runs++;
        maxRunning = Math.max(maxRunning, running);
        await sleep(70);
        running--;
      },
    };
    s.setJobs([job]);
    await sleep(400);
    await s.stop();
    assert.equal(maxRunning, 1);
    assert.ok(runs >= 2, `runs ${runs}`);
    assert.ok(s.stats.skippedOverlap >= runs, `skipped ${s.stats.skippedOverlap}`);
  });

  it('enforces the global and per-host limits', async () => {
    const s = new Scheduler({ maxConcurrency: 3, perHostConcurrency: 2 });
    const inFlight = new Map<string, number>();
    let total = 0;
    let maxTotal = 0;
    const maxHost = new Map<string, number>();
    const started = new Set<string>();
    const jobs: Job[] = [];
    for (let i = 0; i < 12; i++) {
      const host = `h${i % 3}`;
      jobs.push({
        key: `j${i}`,
        intervalMs: 10_000,
        host,
        run: async () => {
          started.add(`j${i}`);
          total++;
          inFlight.set(host, (inFlight.get(host) ?? 0) + 1);
          maxTotal = Math.max(maxTotal, total);
          maxHost.set(host, Math.max(maxHost.get(host) ?? 0, inFlight.get(host)!));
          await sleep(5);
          total--;
          inFlight.set(host, inFlight.get(host)! - 1);
        },
      });
    }
    // Put every job's first slot in the past so all are due at once.
    s.setJobs(jobs);
    (s as unknown as { heap: { due: number }[] }).heap.forEach((e) => (e.due = Date.now() - 1));
    (s as unknown as { tick(): void }).tick();
    for (let i = 0; i < 200 && started.size < 12; i++) await sleep(5);
    await s.stop();
    assert.equal(started.size, 12);
    assert.equal(maxTotal, 3);
    for (const [, n] of maxHost) assert.ok(n <= 2);
  });

  it('reload keeps unchanged jobs, drops removed ones', async () => {
    const s = new Scheduler({ maxConcurrency: 10, perHostConcurrency: 10 });
    const counts = new Map<string, number>();
    const mk = (key: string): Job => ({ key, intervalMs: 15, host: 'h', run: async () => void counts.set(key, (counts.get(key) ?? 0) + 1) });
    s.setJobs([mk('a'), mk('b')]);
    await sleep(100);
    s.setJobs([mk('a')]);
    const bAfter = counts.get('b') ?? 0;
    await sleep(100);
    await s.stop();
    assert.equal(counts.get('b') ?? 0, bAfter);
    assert.ok((counts.get('a') ?? 0) >= 6);
  });

  it('stop waits for runs in flight', async () => {
    const s = new Scheduler({ maxConcurrency: 10, perHostConcurrency: 10 });
    let finished = false;
    s.setJobs([{ key: 'x', intervalMs: 5, host: 'h', run: async () => { await sleep(50); finished = true; } }]);
    await sleep(20);
    await s.stop();
    assert.equal(finished, true);
  });
});
