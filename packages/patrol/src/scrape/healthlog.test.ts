import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { TargetHealthLog } from './healthlog.js';

async function capture(level: string, fn: (h: TargetHealthLog) => void): Promise<Record<string, unknown>[]> {
  const s = new PassThrough();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString()));
  const h = new TargetHealthLog(createLogger(level, s), { job: 'app', instance: 'a:1' }, 60_000);
  fn(h);
  await new Promise((r) => setImmediate(r));
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

const fail = (error: string) => ({ ok: false, error, durationMs: 5, samplesScraped: 0 });
const ok = { ok: true, error: '', durationMs: 5, samplesScraped: 3 };

describe('scrape target health log', () => {
  it('warns on the first failure and on going down, rate-limits changed reasons, logs recovery at info', async () => {
    const lines = await capture('info', (h) => {
      h.observe('unknown', fail('connection refused'), 0);
      h.observe('down', fail('connection refused'), 1000);
      h.observe('down', fail('line 3: invalid metric name'), 2000); // changed, but within a minute
      h.observe('down', fail('line 3: invalid metric name'), 70_000); // same as the last logged? no: logged one is "refused"
      h.observe('down', fail('timeout'), 80_000); // within a minute of the last warning
      h.observe('down', ok, 90_000);
      h.observe('up', ok, 100_000);
      h.observe('up', fail('line 1: unexpected "{"'), 110_000);
    });
    assert.deepEqual(
      lines.map((l) => [l.level, l.msg, l.reason ?? null]),
      [
        ['warn', 'first scrape of target failed', 'connection refused'],
        ['warn', 'scrape target still down', 'line 3: invalid metric name'],
        ['info', 'scrape target up', null],
        ['warn', 'scrape target down', 'line 1: unexpected "{"'],
      ],
    );
    assert.equal(lines[0].job, 'app');
    assert.equal(lines[0].instance, 'a:1');
    assert.equal(lines[2].down_seconds, 90);
  });

  it('logs every scrape at debug only', async () => {
    const debug = await capture('debug', (h) => {
      h.observe('unknown', ok, 0);
      h.observe('up', ok, 1);
    });
    assert.deepEqual(debug.map((l) => [l.level, l.msg, l.samples]), [['debug', 'scrape', 3], ['debug', 'scrape', 3]]);
    assert.deepEqual(await capture('info', (h) => h.observe('unknown', ok, 0)), []);
  });
});
