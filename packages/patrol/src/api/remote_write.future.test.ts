// A remote-write sample 400 days ahead of the clock must not delete what is stored (issue 11):
// it is answered with 400 naming the series, and later samples are stored as before.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Patrol } from '../server.js';
import { snappy, WriteRequestType } from './remote_write.testutil.js';

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };
const DAY = 86_400_000;

function body(series: { name: string; samples: [number, number][] }[]): Buffer {
  const msg = WriteRequestType.create({
    timeseries: series.map((s) => ({ labels: [{ name: '__name__', value: s.name }, { name: 'job', value: 'rw' }], samples: s.samples.map(([timestamp, value]) => ({ timestamp, value })) })),
  });
  return Buffer.from(snappy.compress(WriteRequestType.encode(msg).finish()));
}

describe('remote write with a timestamp far in the future (real server)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-rwfuture-'));
  let patrol: Patrol;
  let base: string;

  before(async () => {
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(configFile, 'scrape_configs: []\nserver: {enable_admin_api: true}\n');
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: pino({ level: 'silent' }) });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = async (b: Buffer) => {
    const r = await fetch(`${base}/api/v1/write`, { method: 'POST', headers: HEADERS, body: b });
    return { status: r.status, text: await r.text() };
  };
  const series = async (): Promise<string[]> => {
    const r = (await (await fetch(`${base}/api/v1/series?match[]={job="rw"}`)).json()) as { data: { __name__: string }[] };
    return r.data.map((s) => s.__name__).sort();
  };

  it('answers 400 naming the series, keeps the old data, and accepts later samples', async () => {
    const now = Date.now();
    const old: [number, number][] = [];
    for (let t = now - 2 * DAY; t < now - 60_000; t += 3_600_000) old.push([t, 1]);
    assert.equal((await write(body([{ name: 'old_metric', samples: old }]))).status, 204);

    const bad = await write(body([{ name: 'future_metric', samples: [[now + 400 * DAY, 1]] }]));
    assert.equal(bad.status, 400);
    assert.match(bad.text, /more than storage\.max_future \(600s\) ahead of the wall clock.*for series future_metric\{job="rw"\}/);

    // A snapshot persists the head and runs retention, as the minute's compaction would.
    assert.equal((await fetch(`${base}/api/v1/admin/tsdb/snapshot`, { method: 'POST' })).status, 200);
    assert.deepEqual(await series(), ['old_metric']);
    const q = (await (await fetch(`${base}/api/v1/query?query=count_over_time(old_metric[3d])`)).json()) as { data: { result: { value: [number, string] }[] } };
    assert.equal(q.data.result[0].value[1], String(old.length), 'every old sample survives');

    const later = await write(body([{ name: 'old_metric', samples: [[Date.now(), 2]] }, { name: 'new_metric', samples: [[Date.now(), 3]] }]));
    assert.equal(later.status, 204, later.text);
    assert.deepEqual(await series(), ['new_metric', 'old_metric']);
  });
});
