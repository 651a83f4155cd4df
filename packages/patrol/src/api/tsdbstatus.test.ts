import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { formatDuration } from '../model/duration.js';
import { labelsFromRecord } from '../model/labels.js';
import { openTSDB } from '../tsdb/tsdb.js';
import { formatBase2Bytes, formatStorageRetention, tsdbStatusJSON, tsdbStatusLimit } from './tsdbstatus.js';

describe('/api/v1/status/tsdb from the TSDB index', () => {
  it('counts series, pairs, values and bytes of what was written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-tsdbstatus-'));
    const db = await openTSDB({ dir, retention: 86_400_000, compactInterval: 0, now: () => 100_000 });
    try {
      const empty = JSON.parse(tsdbStatusJSON(db, 10)) as { headStats: Record<string, number>; seriesCountByMetricName: unknown[] };
      assert.deepEqual(empty.headStats, { chunkCount: 0, maxTime: 0, minTime: 0, numLabelPairs: 0, numSeries: 0 });
      assert.deepEqual(empty.seriesCountByMetricName, []);

      const a = db.appender();
      // up: 3 series (job a ×2, job bb ×1); http_requests_total: 2 series (job a).
      a.append(0, labelsFromRecord({ __name__: 'up', job: 'a', instance: 'x' }), 1000, 1);
      a.append(0, labelsFromRecord({ __name__: 'up', job: 'a', instance: 'y' }), 2000, 1);
      a.append(0, labelsFromRecord({ __name__: 'up', job: 'bb', instance: 'x' }), 3000, 1);
      a.append(0, labelsFromRecord({ __name__: 'http_requests_total', job: 'a', code: '200' }), 4000, 5);
      a.append(0, labelsFromRecord({ __name__: 'http_requests_total', job: 'a', code: '500' }), 5000, 5);
      a.commit();

      const s = JSON.parse(tsdbStatusJSON(db, 10)) as Record<string, { name: string; value: number }[]> & { headStats: Record<string, number> };
      assert.equal(s.headStats.numSeries, 5);
      assert.equal(s.headStats.minTime, 1000);
      assert.equal(s.headStats.maxTime, 5000);
      // Pairs: __name__ ×2, job ×2, instance ×2, code ×2.
      assert.equal(s.headStats.numLabelPairs, 8);
      assert.deepEqual(s.seriesCountByMetricName, [
        { name: 'up', value: 3 },
        { name: 'http_requests_total', value: 2 },
      ]);
      assert.deepEqual(s.labelValueCountByLabelName, [
        { name: '__name__', value: 2 },
        { name: 'code', value: 2 },
        { name: 'instance', value: 2 },
        { name: 'job', value: 2 },
      ]);
      // __name__: 3×"up" + 2×"http_requests_total" = 6 + 38; job: 4×"a" + 1×"bb" = 6.
      assert.deepEqual(
        s.memoryInBytesByLabelName.find((x) => x.name === '__name__'),
        { name: '__name__', value: 44 },
      );
      assert.deepEqual(
        s.memoryInBytesByLabelName.find((x) => x.name === 'job'),
        { name: 'job', value: 6 },
      );
      assert.deepEqual(s.seriesCountByLabelValuePair[0], { name: 'job=a', value: 4 });
      assert.deepEqual(s.seriesCountByLabelValuePair[1], { name: '__name__=up', value: 3 });

      const one = JSON.parse(tsdbStatusJSON(db, 1)) as Record<string, unknown[]>;
      for (const k of ['seriesCountByMetricName', 'labelValueCountByLabelName', 'memoryInBytesByLabelName', 'seriesCountByLabelValuePair']) assert.equal(one[k].length, 1, k);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes limit as Prometheus does', () => {
    assert.equal(tsdbStatusLimit(''), 10);
    assert.equal(tsdbStatusLimit('3'), 3);
    for (const bad of ['0', '-1', 'x', '1.5']) assert.throws(() => tsdbStatusLimit(bad), /limit must be a positive number/);
  });
});

describe('storage retention as runtimeinfo prints it', () => {
  it('joins time and size retention as Prometheus does', () => {
    assert.equal(formatStorageRetention(30 * 86_400_000, 0, formatDuration), '30d');
    assert.equal(formatStorageRetention(15 * 86_400_000, 2 ** 30, formatDuration), '15d or 1GiB');
    assert.equal(formatStorageRetention(0, 1536 * 2 ** 20, formatDuration), '1GiB512MiB');
    assert.equal(formatBase2Bytes(0), '0B');
    assert.equal(formatBase2Bytes(1025), '1KiB1B');
  });
});
