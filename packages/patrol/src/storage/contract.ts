// The storage contract: behaviour every Storage implementation (memory, the embedded TSDB, a
// remote backend later) must show. Run it from a test file:
//   runStorageContract('MyStorage', async () => new MyStorage());
// Each test gets a fresh storage from the factory and closes it at the end.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Labels } from '../model/labels.js';
import { labelsFromRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN, STALE_NAN } from '../model/value.js';
import type { Storage } from './interface.js';
import { collectSeries, loadSamples, StorageError } from './interface.js';

const L = (rec: Record<string, string>): Labels => labelsFromRecord(rec);
const eq = (name: string, value: string): Matcher => new Matcher('=', name, value);

function rows(s: Storage, matchers: Matcher[], start = -Infinity, end = Infinity): { labels: string; ts: number[]; vs: number[] }[] {
  const q = s.querier(start, end);
  try {
    return collectSeries(q.select({ start, end }, matchers)).map((ser) => {
      const { timestamps, values } = loadSamples(ser.iterator());
      return { labels: JSON.stringify(ser.labels), ts: [...timestamps], vs: [...values] };
    });
  } finally {
    q.close();
  }
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof StorageError) return e.code;
    throw e;
  }
  return 'none';
}

export function runStorageContract(name: string, makeStorage: () => Promise<Storage>): void {
  const withStorage = (title: string, fn: (s: Storage) => void | Promise<void>): void => {
    test(title, async () => {
      const s = await makeStorage();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    });
  };

  describe(`storage contract: ${name}`, () => {
    withStorage('commit makes samples visible; nothing before commit; rollback discards', (s) => {
      const a = s.appender();
      const ls = L({ __name__: 'up', job: 'a' });
      const ref = a.append(0, ls, 1000, 1);
      a.append(ref, ls, 2000, 2);
      assert.deepEqual(rows(s, [eq('__name__', 'up')]), []);
      a.commit();
      assert.deepEqual(rows(s, [eq('__name__', 'up')]), [{ labels: JSON.stringify(ls), ts: [1000, 2000], vs: [1, 2] }]);
      const b = s.appender();
      b.append(ref, ls, 3000, 3);
      b.rollback();
      assert.deepEqual(rows(s, [eq('__name__', 'up')])[0].ts, [1000, 2000]);
    });

    withStorage('an appender is unusable after commit or rollback', (s) => {
      const a = s.appender();
      a.append(0, L({ __name__: 'x' }), 1, 1);
      a.commit();
      assert.equal(code(() => a.append(0, L({ __name__: 'x' }), 2, 2)), 'closed');
      assert.equal(code(() => a.commit()), 'closed');
      const b = s.appender();
      b.rollback();
      assert.equal(code(() => b.append(0, L({ __name__: 'x' }), 3, 3)), 'closed');
    });

    withStorage('rejects out-of-order and conflicting duplicate samples, keeps the batch usable', (s) => {
      const ls = L({ __name__: 'm' });
      const a = s.appender();
      a.append(0, ls, 1000, 1);
      a.append(0, ls, 2000, 2);
      assert.equal(code(() => a.append(0, ls, 1500, 9)), 'out_of_order');
      assert.equal(code(() => a.append(0, ls, 2000, 3)), 'duplicate_sample');
      assert.equal(code(() => a.append(0, ls, 2000, 2)), 'none');
      a.append(0, ls, 3000, 3);
      a.commit();
      const b = s.appender();
      assert.equal(code(() => b.append(0, ls, 500, 1)), 'out_of_order');
      assert.equal(code(() => b.append(0, ls, 3000, 4)), 'duplicate_sample');
      assert.equal(code(() => b.append(0, ls, 3000, 3)), 'none');
      b.commit();
      assert.deepEqual(rows(s, [eq('__name__', 'm')])[0], { labels: JSON.stringify(ls), ts: [1000, 2000, 3000], vs: [1, 2, 3] });
    });

    withStorage('rejects invalid label sets', (s) => {
      const a = s.appender();
      assert.equal(code(() => a.append(0, [], 1, 1)), 'invalid_labels');
      assert.equal(code(() => a.append(0, [{ name: 'job', value: 'x' }], 1, 1)), 'invalid_labels');
      assert.equal(
        code(() =>
          a.append(
            0,
            [
              { name: 'z', value: '1' },
              { name: '__name__', value: 'x' },
            ],
            1,
            1,
          ),
        ),
        'invalid_labels',
      );
      a.rollback();
    });

    withStorage('keeps the stale marker, NaN, infinities and -0', (s) => {
      const ls = L({ __name__: 'v' });
      const a = s.appender();
      const vals = [STALE_NAN, NaN, Infinity, -Infinity, -0, 0, 1.5e-300];
      vals.forEach((v, i) => a.append(0, ls, (i + 1) * 1000, v));
      a.commit();
      const q = s.querier(0, 10_000);
      const [ser] = collectSeries(q.select({ start: 0, end: 10_000 }, [eq('__name__', 'v')]));
      const { values } = loadSamples(ser.iterator());
      assert.equal(values.length, vals.length);
      assert.ok(isStaleNaN(values[0]), 'stale marker kept');
      assert.ok(Number.isNaN(values[1]) && !isStaleNaN(values[1]), 'plain NaN is not stale');
      assert.equal(values[2], Infinity);
      assert.equal(values[3], -Infinity);
      assert.ok(Object.is(values[4], -0));
      assert.ok(Object.is(values[5], 0));
      assert.equal(values[6], 1.5e-300);
    });

    withStorage('selects with = != =~ !~ and returns series sorted by labels', (s) => {
      const a = s.appender();
      const sets: Record<string, string>[] = [
        { __name__: 'http', code: '500', path: '/b' },
        { __name__: 'http', code: '200', path: '/a' },
        { __name__: 'http', code: '200', path: '/b' },
        { __name__: 'http', path: '/c' },
        { __name__: 'other', code: '200' },
      ];
      sets.forEach((r, i) => a.append(0, L(r), 1000, i));
      a.commit();
      const sel = (ms: Matcher[]): string[] => rows(s, ms).map((r) => r.labels);
      const j = (r: Record<string, string>): string => JSON.stringify(L(r));
      assert.deepEqual(sel([eq('__name__', 'http'), eq('code', '200')]), [j(sets[1]), j(sets[2])]);
      assert.deepEqual(sel([eq('__name__', 'http'), new Matcher('!=', 'code', '200')]), [j(sets[0]), j(sets[3])]);
      assert.deepEqual(sel([eq('__name__', 'http'), new Matcher('=~', 'code', '2..|5..')]), [j(sets[1]), j(sets[2]), j(sets[0])]);
      assert.deepEqual(sel([eq('__name__', 'http'), new Matcher('!~', 'path', '/[ab]')]), [j(sets[3])]);
      assert.deepEqual(sel([eq('__name__', 'http'), eq('code', '')]), [j(sets[3])]);
      assert.deepEqual(sel([new Matcher('=~', 'code', '.+')]), [j(sets[1]), j(sets[2]), j(sets[0]), j(sets[4])]);
      assert.deepEqual(sel([eq('__name__', 'nope')]), []);
    });

    withStorage('label names and values follow matchers and the querier time range', (s) => {
      const a = s.appender();
      a.append(0, L({ __name__: 'a', x: '1' }), 1000, 1);
      a.append(0, L({ __name__: 'a', x: '2', y: 'q' }), 1000, 1);
      a.append(0, L({ __name__: 'b', z: 'late' }), 50_000, 1);
      a.commit();
      const q = s.querier(0, 10_000);
      assert.deepEqual(q.labelNames(), ['__name__', 'x', 'y']);
      assert.deepEqual(q.labelValues('x'), ['1', '2']);
      assert.deepEqual(q.labelValues('__name__'), ['a']);
      assert.deepEqual(q.labelNames([eq('x', '1')]), ['__name__', 'x']);
      assert.deepEqual(q.labelValues('x', [eq('y', 'q')]), ['2']);
      assert.deepEqual(q.labelValues('nope'), []);
      q.close();
      const all = s.querier(0, 100_000);
      assert.deepEqual(all.labelValues('__name__'), ['a', 'b']);
      all.close();
    });

    withStorage('select honours the hint range and skips series without samples in it', (s) => {
      const a = s.appender();
      const ls1 = L({ __name__: 'r', i: '1' });
      const ls2 = L({ __name__: 'r', i: '2' });
      for (let t = 0; t <= 100_000; t += 10_000) a.append(0, ls1, t, t / 1000);
      a.append(0, ls2, 0, 0);
      a.append(0, ls2, 100_000, 0);
      a.commit();
      const got = rows(s, [eq('__name__', 'r')], 25_000, 55_000);
      assert.equal(got.length, 1);
      assert.deepEqual(got[0].ts, [30_000, 40_000, 50_000]);
      const q = s.querier(0, 100_000);
      const [ser] = collectSeries(q.select({ start: 15_000, end: 45_000 }, [eq('i', '1')]));
      const it = ser.iterator();
      assert.ok(it.seek(31_000));
      assert.equal(it.atT(), 40_000);
      assert.ok(it.seek(20_000), 'seek backwards stays put');
      assert.equal(it.atT(), 40_000);
      assert.equal(it.seek(46_000), false);
      assert.equal(it.err(), null);
      const again = loadSamples(ser.iterator());
      assert.deepEqual([...again.timestamps], [20_000, 30_000, 40_000], 'iterator() starts afresh');
      q.close();
    });

    withStorage('deleteSeries removes a time range or whole series', (s) => {
      const a = s.appender();
      const keep = L({ __name__: 'd', k: 'keep' });
      const gone = L({ __name__: 'd', k: 'gone' });
      for (let t = 1000; t <= 10_000; t += 1000) {
        a.append(0, keep, t, t);
        a.append(0, gone, t, t);
      }
      a.commit();
      s.deleteSeries([eq('k', 'keep')], 3000, 5000);
      s.deleteSeries([eq('k', 'gone')], -Infinity, Infinity);
      const got = rows(s, [eq('__name__', 'd')]);
      assert.equal(got.length, 1);
      assert.deepEqual(got[0].ts, [1000, 2000, 6000, 7000, 8000, 9000, 10_000]);
      const q = s.querier(-Infinity, Infinity);
      assert.deepEqual(q.labelValues('k'), ['keep']);
      q.close();
      const b = s.appender();
      b.append(0, gone, 20_000, 1);
      b.append(0, keep, 11_000, 11);
      b.commit();
      assert.deepEqual(rows(s, [eq('k', 'gone')])[0].ts, [20_000]);
      assert.deepEqual(rows(s, [eq('k', 'keep')])[0].ts.slice(-1), [11_000]);
    });

    withStorage('refs returned by append address the same series', (s) => {
      const a = s.appender();
      const ls = L({ __name__: 'ref', a: 'b' });
      const r1 = a.append(0, ls, 1, 1);
      const r2 = a.append(r1, ls, 2, 2);
      const r3 = a.append(0, ls, 3, 3);
      assert.equal(r1, r2);
      assert.equal(r1, r3);
      a.commit();
      const b = s.appender();
      b.append(r1, ls, 4, 4);
      b.commit();
      assert.deepEqual(rows(s, [eq('a', 'b')])[0].ts, [1, 2, 3, 4]);
    });

    withStorage('many series and samples across several batches', (s) => {
      const n = 300;
      for (let step = 0; step < 400; step++) {
        const a = s.appender();
        for (let i = 0; i < n; i++) a.append(0, L({ __name__: 'bulk', i: String(i) }), step * 15_000, i % 7 === 0 ? step : Math.sin(step + i));
        a.commit();
      }
      const got = rows(s, [eq('__name__', 'bulk'), new Matcher('=~', 'i', '1[0-9]')]);
      assert.equal(got.length, 10);
      for (const r of got) {
        assert.equal(r.ts.length, 400);
        const i = Number(JSON.parse(r.labels).find((l: { name: string }) => l.name === 'i').value);
        assert.equal(r.vs[123], i % 7 === 0 ? 123 : Math.sin(123 + i));
      }
    });
  });
}
