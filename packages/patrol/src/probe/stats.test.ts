import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { labelsFromRecord } from '../model/labels.js';
import { STALE_NAN } from '../model/value.js';
import { MemoryStorage } from '../storage/memory.js';
import { ProbeStatsAccumulator } from './stats.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('uptime and latency from storage', () => {
  const now = Math.floor(Date.UTC(2026, 0, 31, 12, 30) / HOUR) * HOUR + 30 * 60_000; // mid-hour
  const storage = new MemoryStorage();
  const succ = labelsFromRecord({ __name__: 'probe_success', probe: 'api', instance: 'x' });
  const dur = labelsFromRecord({ __name__: 'probe_duration_seconds', probe: 'api', instance: 'x' });
  const other = labelsFromRecord({ __name__: 'probe_success', probe: 'other', instance: 'y' });
  const durations: number[] = [];
  // One run every 10 minutes for 40 days: up in the last day (from the start of its oldest
  // hour), half the time in days 1-7, down before that.
  const app = storage.appender();
  let i = 0;
  for (let t = now - 40 * DAY; t <= now - 60_000; t += 10 * 60_000, i++) {
    const hourAge = Math.floor(now / HOUR) * HOUR - Math.floor(t / HOUR) * HOUR;
    const ok = hourAge < DAY ? 1 : hourAge < 7 * DAY ? i % 2 : 0;
    app.append(0, succ, t, ok);
    app.append(0, other, t, 1);
    const d = 0.01 + (i % 100) / 1000; // 10 ms .. 109 ms
    app.append(0, dur, t, d);
    if (hourAge < DAY) durations.push(d);
  }
  app.commit();

  it('computes uptime over 24 h, 7 d and 30 d, and latency quantiles within 5 %', () => {
    const acc = new ProbeStatsAccumulator('api', 5 * 60_000);
    const f = acc.compute(storage, now);
    assert.equal(f.uptime['24h'], 1);
    // 7 d: 24 h of ups plus 6 days alternating.
    const w7 = 7 * 24 * 6;
    const ups7 = 24 * 6 + (6 * 24 * 6) / 2;
    assert.ok(Math.abs(f.uptime['7d']! - ups7 / w7) < 0.01, String(f.uptime['7d']));
    assert.ok(f.uptime['30d']! < f.uptime['7d']! && f.uptime['30d']! > 0.1);
    durations.sort((a, b) => a - b);
    const exact = (p: number) => durations[Math.ceil(p * durations.length) - 1];
    for (const [p, got] of [
      [0.5, f.latency.p50],
      [0.95, f.latency.p95],
      [0.99, f.latency.p99],
    ] as const) {
      assert.ok(Math.abs(got! - exact(p)) / exact(p) < 0.05, `p${p * 100}: ${got} vs ${exact(p)}`);
    }
  });

  it('keeps latency histograms for the last day only, and the quantiles stay the same', () => {
    const acc = new ProbeStatsAccumulator('api', 5 * 60_000);
    const first = acc.compute(storage, now);
    // 30 days of hours are folded; only the hours of the 24 h window (plus the current one) keep
    // a histogram. Without the drop, every hour with durations kept one (720).
    assert.ok(acc.histogramHours() >= 24 && acc.histogramHours() <= 25, String(acc.histogramHours()));
    // A day later (no new runs), the hours that left the window lost theirs.
    const later = acc.compute(storage, now + DAY);
    assert.equal(later.latency.p50, null);
    assert.equal(acc.histogramHours(), 0);
    assert.ok(first.latency.p50! > 0);
  });

  it('folds new samples incrementally and ignores staleness markers', () => {
    const acc = new ProbeStatsAccumulator('api', 5 * 60_000);
    acc.compute(storage, now);
    const a = storage.appender();
    a.append(0, succ, now, 0);
    a.append(0, dur, now, 5);
    a.commit();
    const f = acc.compute(storage, now + 1000);
    assert.ok(f.uptime['24h']! < 1);
    const b = storage.appender();
    b.append(0, succ, now + 2000, STALE_NAN);
    b.commit();
    const g = acc.compute(storage, now + 10 * 60_000);
    assert.equal(g.uptime['24h'], f.uptime['24h']);
  });

  it('no samples: null figures', () => {
    const f = new ProbeStatsAccumulator('nope', 1000).compute(storage, now);
    const none = { start: null, seconds: 0, runs: 0 };
    assert.deepEqual(f, { uptime: { '24h': null, '7d': null, '30d': null }, observed: { '24h': none, '7d': none, '30d': none }, latency: { p50: null, p95: null, p99: null } });
  });

  it('windows longer than the data report the span observed', () => {
    // 12 minutes of runs, one every 30 s, the first 8 of 24 failing: every window reads 0.67.
    const st = new MemoryStorage();
    const ls = labelsFromRecord({ __name__: 'probe_success', probe: 'new', instance: 'z' });
    const a = st.appender();
    const first = now - 12 * 60_000;
    let runs = 0;
    let ups = 0;
    for (let t = first; t < now; t += 30_000, runs++) {
      const ok = runs >= 8 ? 1 : 0;
      ups += ok;
      a.append(0, ls, t, ok);
    }
    a.commit();
    const f = new ProbeStatsAccumulator('new', 5 * 60_000).compute(st, now);
    assert.equal(runs, 24);
    for (const w of ['24h', '7d', '30d'] as const) {
      assert.equal(f.uptime[w], ups / runs);
      assert.deepEqual(f.observed[w], { start: first, seconds: 720, runs: 24 });
    }
  });

  it('a window holding older data starts at its first counted hour, not at the oldest sample', () => {
    const f = new ProbeStatsAccumulator('api', 5 * 60_000).compute(storage, now);
    const current = Math.floor(now / HOUR) * HOUR;
    // 40 days of data: the 24 h window starts in the hour 23 hours before the current one.
    assert.ok(f.observed['24h'].start! >= current - 23 * HOUR && f.observed['24h'].start! < current - 22 * HOUR, new Date(f.observed['24h'].start!).toISOString());
    assert.ok(f.observed['30d'].start! >= current - 30 * DAY);
    assert.equal(f.observed['30d'].seconds, Math.round((now - f.observed['30d'].start!) / 1000));
    assert.ok(f.observed['7d'].runs > f.observed['24h'].runs);
  });
});
