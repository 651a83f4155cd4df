import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { labelsToRecord, metricName } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN, STALE_NAN } from '../model/value.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { decodeWriteRequest, registerRemoteWrite, type DecodedSeries } from './remote_write.js';
import { snappy, WriteRequestType } from './remote_write.testutil.js';
import { freePort } from '../testing/net.js';
import { binaryPath, needBinary } from '../testing/shared.js';

const PROMETHEUS = binaryPath('prometheus');

interface TS {
  labels: { name: string; value: string }[];
  samples: { value: number; timestamp: number }[];
}

function encode(timeseries: TS[]): Uint8Array {
  return WriteRequestType.encode(WriteRequestType.fromObject({ timeseries })).finish();
}

function body(timeseries: TS[]): Buffer {
  return Buffer.from(snappy.compress(encode(timeseries)));
}

function series(name: string, extra: Record<string, string>, samples: [number, number][]): TS {
  return {
    labels: [{ name: '__name__', value: name }, ...Object.entries(extra).map(([n, v]) => ({ name: n, value: v }))],
    samples: samples.map(([timestamp, value]) => ({ timestamp, value })),
  };
}

function read(storage: MemoryStorage, matchers: Matcher[]): { labels: Record<string, string>; timestamps: number[]; values: number[] }[] {
  const q = storage.querier(-Infinity, Infinity);
  const out = collectSeries(q.select({ start: -Infinity, end: Infinity }, matchers)).map((s) => {
    const { timestamps, values } = loadSamples(s.iterator());
    return { labels: labelsToRecord(s.labels), timestamps: [...timestamps], values: [...values] };
  });
  q.close();
  return out;
}

async function app(storage: MemoryStorage, registry?: Registry): Promise<FastifyInstance> {
  const a = Fastify();
  registerRemoteWrite(a, storage, pino({ level: 'silent' }), { registry });
  await a.ready();
  return a;
}

const HEADERS = { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' };

describe('remote write decoding', () => {
  it('decodes what protobufjs encodes, including negative timestamps and the staleness marker', () => {
    const got: DecodedSeries[] = [];
    decodeWriteRequest(
      encode([series('a', { job: 'x', 'é': '' }, [[1_700_000_000_123, 1.5], [-5, -2], [2 ** 52, STALE_NAN]]), series('b', { v: 'ünï' }, [])]),
      (s) => got.push({ ...s, labels: [...s.labels] }),
    );
    assert.equal(got.length, 2);
    assert.deepEqual(got[0].labels, [
      { name: '__name__', value: 'a' },
      { name: 'job', value: 'x' },
      { name: 'é', value: '' },
    ]);
    assert.deepEqual(got[0].timestamps, [1_700_000_000_123, -5, 2 ** 52]);
    assert.deepEqual(got[0].values.slice(0, 2), [1.5, -2]);
    assert.ok(isStaleNaN(got[0].values[2]), 'staleness marker keeps its bits');
    assert.deepEqual(got[1].labels[1], { name: 'v', value: 'ünï' });
  });

  it('rejects truncated messages with the offset', () => {
    const buf = encode([series('a', { job: 'x' }, [[1, 1]])]);
    assert.throws(() => decodeWriteRequest(buf.subarray(0, buf.length - 3), () => undefined), /truncated .* offset \d+/);
  });
});

describe('POST /api/v1/write', () => {
  it('stores samples and answers 204', async () => {
    const storage = new MemoryStorage();
    const registry = new Registry();
    const a = await app(storage, registry);
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body([series('http_requests_total', { job: 'api', code: '200' }, [[1000, 1], [2000, 3]]), series('up', { job: 'api' }, [[1000, 1]])]) });
    assert.equal(res.statusCode, 204, res.body);
    const got = read(storage, [new Matcher('=', 'job', 'api')]);
    assert.deepEqual(
      got.map((s) => [s.labels, s.timestamps, s.values]),
      [
        [{ __name__: 'http_requests_total', code: '200', job: 'api' }, [1000, 2000], [1, 3]],
        [{ __name__: 'up', job: 'api' }, [1000], [1]],
      ],
    );
    assert.match(await registry.metrics(), /patrol_remote_write_samples_received_total 3/);
    await a.close();
  });

  it('keeps valid samples and answers 400 naming out-of-order samples and invalid labels', async () => {
    const storage = new MemoryStorage();
    const a = await app(storage);
    let res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body([series('m', { job: 'j' }, [[5000, 5]])]) });
    assert.equal(res.statusCode, 204);
    res = await a.inject({
      method: 'POST',
      url: '/api/v1/write',
      headers: HEADERS,
      payload: body([
        series('m', { job: 'j' }, [[4000, 4], [6000, 6]]),
        series('ok', { job: 'j' }, [[4000, 1]]),
        series('bad', { 'bad-name': 'x' }, [[4000, 1]]),
        { labels: [{ name: 'job', value: 'j' }], samples: [{ timestamp: 1, value: 1 }] },
        series('dup', { a: '1' }, []),
      ]),
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /^3 samples rejected, 2 stored: /);
    assert.match(res.body, /out of order sample.*m\{job="j"\} at timestamp 4000/);
    assert.match(res.body, /invalid label name "bad-name"/);
    assert.match(res.body, /series without a metric name/);
    assert.deepEqual(read(storage, [new Matcher('=', '__name__', 'm')])[0].values, [5, 6]);
    assert.equal(read(storage, [new Matcher('=', '__name__', 'ok')]).length, 1);
    assert.equal(read(storage, [new Matcher('=', '__name__', 'bad')]).length, 0);
    await a.close();
  });

  it('rejects duplicate label names', async () => {
    const storage = new MemoryStorage();
    const a = await app(storage);
    const ts: TS = { labels: [{ name: '__name__', value: 'x' }, { name: 'a', value: '1' }, { name: 'a', value: '2' }], samples: [{ timestamp: 1, value: 1 }] };
    const res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body([ts]) });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /duplicate label name "a"/);
    await a.close();
  });

  it('answers 400 for bad compression or protobuf and stores nothing', async () => {
    const storage = new MemoryStorage();
    const a = await app(storage);
    let res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from('definitely not snappy') });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /snappy/);
    const good = encode([series('a', { job: 'x' }, [[1, 1]]), series('b', { job: 'x' }, [[1, 1]])]);
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(good.subarray(0, good.length - 2))) });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /invalid protobuf WriteRequest: truncated/);
    assert.equal(read(storage, [new Matcher('=', 'job', 'x')]).length, 0, 'nothing half-written');
    const badUtf8 = Buffer.from(encode([series('a', { job: 'xx' }, [[1, 1]])]));
    badUtf8[badUtf8.indexOf('xx')] = 0xff;
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: Buffer.from(snappy.compress(badUtf8)) });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /invalid UTF-8/);
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: { ...HEADERS, 'content-encoding': 'gzip' }, payload: body([]) });
    assert.equal(res.statusCode, 415);
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: { ...HEADERS, 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' }, payload: body([]) });
    assert.equal(res.statusCode, 415);
    assert.match(res.body, /remote write 1\.0/);
    await a.close();
  });
});


describe('remote write before storage is open', () => {
  it('answers 503 so the sender retries', async () => {
    let storage: MemoryStorage | null = null;
    const a = Fastify();
    registerRemoteWrite(a, () => storage, pino({ level: 'silent' }));
    await a.ready();
    let res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body([series('m', {}, [[1, 1]])]) });
    assert.equal(res.statusCode, 503);
    storage = new MemoryStorage();
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: body([series('m', {}, [[1, 1]])]) });
    assert.equal(res.statusCode, 204);
    assert.equal(read(storage, [new Matcher('=', '__name__', 'm')]).length, 1);
    await a.close();
  });
});

describe('remote write limits', () => {
  it('answers 413 for a body over the limit and 400 for one that decompresses past the limit', async () => {
    const storage = new MemoryStorage();
    const a = Fastify();
    registerRemoteWrite(a, storage, pino({ level: 'silent' }), { bodyLimit: 8192, maxDecompressedBytes: 4096 });
    await a.ready();
    const big = [];
    for (let i = 0; i < 200; i++) big.push(series('m', { i: String(i), pad: randomBytes(24).toString('hex') }, [[1, 1]]));
    const payload = body(big);
    assert.ok(payload.length > 8192);
    let res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload });
    assert.equal(res.statusCode, 413);
    const zeros = Buffer.from(snappy.compress(new Uint8Array(100_000)));
    assert.ok(zeros.length < 8192, `compressed zeros are ${zeros.length} bytes`);
    res = await a.inject({ method: 'POST', url: '/api/v1/write', headers: HEADERS, payload: zeros });
    assert.equal(res.statusCode, 400);
    assert.match(res.body, /decoded size 100000 bytes exceeds the limit of 4096 bytes \(max_decoded_bytes\)/);
    await a.close();
  });
});

describe('round trip from Debian prometheus', { skip: needBinary('prometheus') }, () => {
  let proc: ChildProcess | null = null;
  let dir = '';
  let patrol: FastifyInstance | null = null;
  const storage = new MemoryStorage();
  let promPort = 0;

  before(async () => {
    patrol = Fastify();
    registerRemoteWrite(patrol, storage, pino({ level: 'silent' }));
    await patrol.listen({ host: '127.0.0.1', port: 0 });
    const addr = patrol.server.address();
    if (!addr || typeof addr !== 'object') throw new Error('no address');
    dir = mkdtempSync(join(tmpdir(), 'patrol-rw-'));
    promPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  external_labels: {replica: r1}',
        'scrape_configs:',
        '  - job_name: prom',
        `    static_configs: [{targets: ['127.0.0.1:${promPort}']}]`,
        'remote_write:',
        `  - url: http://127.0.0.1:${addr.port}/api/v1/write`,
        '    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms, max_backoff: 1s}',
        '',
      ].join('\n'),
    );
    proc = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
  });

  after(async () => {
    if (proc) {
      const exited = new Promise((r) => proc!.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    await patrol?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("stores the series Prometheus scrapes from itself, with its external labels", async () => {
    const deadline = Date.now() + 90_000;
    let up: ReturnType<typeof read> = [];
    let build: ReturnType<typeof read> = [];
    while (Date.now() < deadline) {
      up = read(storage, [new Matcher('=', '__name__', 'up')]);
      build = read(storage, [new Matcher('=', '__name__', 'prometheus_build_info')]);
      if (up.length > 0 && build.length > 0 && up[0].values.length >= 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(up.length, 1, 'up arrived');
    assert.deepEqual(up[0].labels, { __name__: 'up', instance: `127.0.0.1:${promPort}`, job: 'prom', replica: 'r1' });
    assert.ok(up[0].values.every((v) => v === 1));
    assert.ok(up[0].values.length >= 2, 'samples keep arriving');
    assert.equal(build.length, 1);
    assert.equal(build[0].labels.version, '2.42.0+ds');
    const all = read(storage, [new Matcher('=', 'job', 'prom')]);
    assert.ok(all.length > 100, `many series arrived (${all.length})`);
    assert.ok(all.some((s) => metricName(Object.entries(s.labels).map(([name, value]) => ({ name, value }))) === 'prometheus_http_requests_total'));
  });
});
