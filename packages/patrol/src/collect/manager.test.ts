import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Runtime } from '../component.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { labelsToRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { flattenExpvar, sanitiseSegment } from './expvar.js';
import { CollectorsManager } from './manager.js';

function config(text: string): Config {
  const r = parseConfig(text, 'test.yml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

function runtime(storage: MemoryStorage): Runtime {
  return { storage, logger: pino({ level: 'silent' }), registry: new Registry(), listen: '127.0.0.1:0', dataDir: '/tmp' };
}

function read(storage: MemoryStorage, ...matchers: Matcher[]): { labels: Record<string, string>; values: number[] }[] {
  const q = storage.querier(-Infinity, Infinity);
  const out = collectSeries(q.select({ start: -Infinity, end: Infinity }, matchers)).map((s) => ({ labels: labelsToRecord(s.labels), values: [...loadSamples(s.iterator()).values] }));
  q.close();
  return out;
}

const name = (n: string) => new Matcher('=', '__name__', n);
const last = (vs: number[]) => vs[vs.length - 1];

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'patrol-collect-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('collectors config', () => {
  it('rejects unknown keys, duplicate names and a timeout longer than the interval', () => {
    for (const [text, re] of [
      ['collectors:\n  scripts:\n    - name: a\n      command: /bin/true\n      shell: yes\n', /unknown key "shell"/],
      ['collectors:\n  scripts:\n    - {name: a, command: /bin/true}\n    - {name: a, command: /bin/false}\n', /collector name "a" is used twice/],
      ['collectors:\n  expvar:\n    - {name: a, url: "http://x/debug/vars", interval: 5s, timeout: 10s}\n', /timeout 10s is greater than interval 5s/],
      ['collectors:\n  expvar:\n    - {name: a, url: "not a url"}\n', /is not a URL/],
      ['host:\n  enable: false\n', /unknown key "enable"/],
      ['collectors:\n  textfile: {}\n', /collectors\.textfile\.directory/],
    ] as const) {
      const r = parseConfig(text, 'p.yml');
      assert.equal(r.ok, false, text);
      if (!r.ok) assert.match(r.errors.map(String).join('\n'), re);
    }
  });
  it('fills defaults', () => {
    const c = config('collectors:\n  scripts:\n    - {name: a, command: /bin/true}\n');
    assert.deepEqual(c.host, { enabled: true, job: 'host', labels: {}, procfs: '/proc', sysfs: '/sys' });
    assert.deepEqual(c.collectors.scripts[0], { name: 'a', command: '/bin/true', args: [], timeout: 10_000, labels: {} });
  });
  it('takes global.scrape_interval when a collector has no interval', async () => {
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config('global: {scrape_interval: 7m}\ncollectors:\n  scripts:\n    - {name: a, command: /bin/true}\n    - {name: b, command: /bin/true, interval: 30s}\n'), { dir });
    assert.deepEqual(
      m.status().map((s) => [s.name, s.intervalSeconds]),
      [
        ['a', 420],
        ['b', 30],
      ],
    );
    await m.stop();
  });
});

describe('textfile collector', () => {
  it('stores *.prom files with the host labels, skips bad files and reports them', async () => {
    const tf = join(dir, 'textfile');
    rmSync(tf, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(tf);
    writeFileSync(join(tf, 'a.prom'), '# TYPE backup_last_success_timestamp_seconds gauge\nbackup_last_success_timestamp_seconds{target="db"} 1700000000\nbackup_size_bytes{target="db",job="nightly"} 42\n');
    writeFileSync(join(tf, 'b.prom'), 'bad{ 1\n');
    writeFileSync(join(tf, 'c.prom'), 'with_ts 1 123\n');
    writeFileSync(join(tf, 'ignored.txt'), 'not_read 1\n');
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`host:\n  job: node\ncollectors:\n  textfile:\n    directory: ${tf}\n    interval: 1h\n`), { dir });
    await m.collectOnce();
    const backup = read(storage, name('backup_last_success_timestamp_seconds'));
    assert.deepEqual(backup.map((s) => s.labels), [{ __name__: 'backup_last_success_timestamp_seconds', instance: hostname(), job: 'node', target: 'db' }]);
    assert.deepEqual(read(storage, name('backup_size_bytes')).map((s) => s.labels.exported_job), ['nightly'], 'a clashing job label moves to exported_job');
    assert.equal(last(read(storage, name('node_textfile_scrape_error'))[0].values), 1);
    const mtimes = read(storage, name('node_textfile_mtime_seconds'));
    assert.deepEqual(mtimes.map((s) => s.labels.file), [join(tf, 'a.prom')]);
    assert.ok(Math.abs(last(mtimes[0].values) - Date.now() / 1000) < 600);
    assert.equal(read(storage, name('with_ts')).length, 0);
    assert.equal(read(storage, name('not_read')).length, 0);
    const [st] = m.status();
    assert.equal(st.kind, 'textfile');
    assert.match(st.lastError, /b\.prom: line 1/);
    assert.match(st.lastError, /c\.prom: contains unsupported client-side timestamps/);

    // A file that disappears ends its series.
    unlinkSync(join(tf, 'a.prom'));
    unlinkSync(join(tf, 'b.prom'));
    unlinkSync(join(tf, 'c.prom'));
    await new Promise((r) => setTimeout(r, 5));
    await m.collectOnce();
    assert.ok(isStaleNaN(last(read(storage, name('backup_last_success_timestamp_seconds'))[0].values)));
    assert.equal(last(read(storage, name('node_textfile_scrape_error'))[0].values), 0);
    assert.equal(m.status()[0].lastError, '');
    await m.stop();
  });
});

describe('script collectors', () => {
  it('stores the output with job=<name>, up and scrape_duration_seconds, and marks dropped series stale', async () => {
    const data = join(dir, 'out.txt');
    writeFileSync(data, 'queue_depth{queue="a"} 3\nqueue_depth{queue="b"} 4\n');
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`collectors:\n  scripts:\n    - name: queues\n      command: /bin/cat\n      args: [${data}]\n      interval: 1h\n      labels: {team: ops}\n`), { dir });
    await m.collectOnce();
    const q = read(storage, name('queue_depth'));
    assert.deepEqual(q.map((s) => s.labels), [
      { __name__: 'queue_depth', instance: hostname(), job: 'queues', queue: 'a', team: 'ops' },
      { __name__: 'queue_depth', instance: hostname(), job: 'queues', queue: 'b', team: 'ops' },
    ]);
    const up = read(storage, name('up'));
    assert.deepEqual(up.map((s) => [s.labels, last(s.values)]), [[{ __name__: 'up', instance: hostname(), job: 'queues', team: 'ops' }, 1]]);
    assert.equal(last(read(storage, name('scrape_samples_scraped'))[0].values), 2);
    assert.equal(read(storage, name('scrape_duration_seconds')).length, 1);
    assert.equal(m.status()[0].health, 'up');

    writeFileSync(data, 'queue_depth{queue="a"} 5\n');
    await new Promise((r) => setTimeout(r, 5));
    await m.collectOnce();
    const after2 = read(storage, name('queue_depth'));
    assert.deepEqual(after2[0].values, [3, 5]);
    assert.ok(isStaleNaN(last(after2[1].values)), 'queue b went stale');
    await m.stop();
  });

  it('reports a failing script with its exit status and stderr, up=0 and staleness', async () => {
    const script = join(dir, 'flaky.sh');
    const flag = join(dir, 'fail');
    writeFileSync(script, `#!/bin/sh\nif [ -e ${flag} ]; then echo "database unreachable" >&2; exit 3; fi\necho 'jobs_pending 7'\n`);
    chmodSync(script, 0o755);
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`collectors:\n  scripts:\n    - {name: flaky, command: ./flaky.sh, interval: 1h}\n`), { dir });
    await m.collectOnce();
    assert.equal(last(read(storage, name('jobs_pending'))[0].values), 7, 'relative commands run from the config folder');
    writeFileSync(flag, '');
    await new Promise((r) => setTimeout(r, 5));
    await m.collectOnce();
    const [st] = m.status();
    assert.equal(st.health, 'down');
    assert.equal(st.lastError, 'exited with status 3: database unreachable');
    assert.deepEqual(read(storage, name('up'))[0].values, [1, 0]);
    assert.ok(isStaleNaN(last(read(storage, name('jobs_pending'))[0].values)));
    unlinkSync(flag);
    await m.stop();
  });

  it('kills a script that runs past its timeout, with everything it started', async () => {
    const pidFile = join(dir, 'pid');
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`collectors:\n  scripts:\n    - {name: slow, command: /bin/sh, args: ["-c", "sleep 30 & echo $! > ${pidFile}; wait"], interval: 1h, timeout: 300ms}\n`), { dir });
    await m.collectOnce();
    const [st] = m.status();
    assert.equal(st.health, 'down');
    assert.match(st.lastError, /timed out after 0\.3s; killed/);
    assert.equal(last(read(storage, name('up'))[0].values), 0);
    const { readFileSync } = await import('node:fs');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let alive = true;
    for (let i = 0; i < 50 && alive; i++) {
      try {
        process.kill(pid, 0);
        if (/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) throw new Error('zombie: killed, not yet reaped');
        await new Promise((r) => setTimeout(r, 20));
      } catch {
        alive = false;
      }
    }
    assert.equal(alive, false, 'the sleep the script started is gone');
    await m.stop();
  });

  it('reports output that is not exposition format, and a missing command', async () => {
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(
      config(`collectors:\n  scripts:\n    - {name: html, command: /bin/echo, args: ["<html>"], interval: 1h}\n    - {name: missing, command: /nonexistent/collector, interval: 1h}\n`),
      { dir },
    );
    await m.collectOnce();
    const byName = new Map(m.status().map((s) => [s.name, s]));
    assert.match(byName.get('html')!.lastError, /^output is not valid exposition format: line 1/);
    assert.match(byName.get('missing')!.lastError, /cannot run "\/nonexistent\/collector": .*ENOENT/);
    await m.stop();
  });

  it('ends the series of a script removed from the configuration', async () => {
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`collectors:\n  scripts:\n    - {name: one, command: /bin/echo, args: ["x_total 1"], interval: 1h}\n`), { dir });
    await m.collectOnce();
    await m.applyConfig(config('collectors: {}\n'), { dir });
    assert.ok(isStaleNaN(last(read(storage, name('x_total'))[0].values)));
    assert.ok(isStaleNaN(last(read(storage, name('up'))[0].values)));
    assert.deepEqual(m.status(), []);
    await m.stop();
  });
});

describe('expvar collectors', () => {
  let server: Server;
  let port = 0;
  let fail = false;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/huge') {
        // Streams without a length until the client gives up.
        res.setHeader('content-type', 'application/json');
        const chunk = '{"a":' + ' '.repeat(1 << 20);
        const push = () => {
          while (res.write(chunk)) if (res.destroyed) return;
        };
        res.on('drain', push);
        res.on('close', () => res.off('drain', push));
        push();
        return;
      }
      if (fail) {
        res.writeHead(500).end('oops');
        return;
      }
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(
        JSON.stringify({
          cmdline: ['/usr/bin/app', '-flag'],
          memstats: { Alloc: 1024, HeapAlloc: 2048, NumGC: 3, GCCPUFraction: 0.01, EnableGC: true, PauseNs: [1, 2, 3], BySize: [{ Size: 0, Mallocs: 0 }] },
          requests: { '/api/users': 10, GET: 4 },
          version: 'v1.2.3',
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('names fields in snake_case under expvar_', () => {
    assert.equal(sanitiseSegment('HeapAlloc'), 'heap_alloc');
    assert.equal(sanitiseSegment('GCCPUFraction'), 'gccpu_fraction');
    assert.equal(sanitiseSegment('/api/users'), 'api_users');
    assert.deepEqual(
      flattenExpvar({ a: { B: 1, c: 'x', d: [1] }, e: false }).map((s) => [labelsToRecord(s.labels).__name__, s.value]),
      [
        ['expvar_a_b', 1],
        ['expvar_e', 0],
      ],
    );
    assert.throws(() => flattenExpvar([1, 2]), /not a JSON object/);
  });

  it('gives up on a body over the limit', async () => {
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`collectors:\n  expvar:\n    - {name: huge, url: "http://127.0.0.1:${port}/huge", interval: 1h, timeout: 30s}\n`), { dir });
    await m.collectOnce();
    assert.match(m.status()[0].lastError, /body exceeds the 16777216-byte limit/);
    assert.equal(last(read(storage, name('up'))[0].values), 0);
    await m.stop();
  });

  it('turns /debug/vars into gauges and reports failures', async () => {
    const storage = new MemoryStorage();
    const m = new CollectorsManager(runtime(storage));
    await m.applyConfig(config(`collectors:\n  expvar:\n    - {name: app, url: "http://127.0.0.1:${port}/debug/vars", interval: 1h}\n`), { dir });
    await m.collectOnce();
    const names = read(storage, new Matcher('=', 'job', 'app'))
      .map((s) => s.labels.__name__)
      .sort();
    assert.deepEqual(names, [
      'expvar_memstats_alloc',
      'expvar_memstats_enable_gc',
      'expvar_memstats_gccpu_fraction',
      'expvar_memstats_heap_alloc',
      'expvar_memstats_num_gc',
      'expvar_requests_api_users',
      'expvar_requests_get',
      'scrape_duration_seconds',
      'scrape_samples_scraped',
      'up',
    ]);
    const heap = read(storage, name('expvar_memstats_heap_alloc'))[0];
    assert.deepEqual(heap.labels, { __name__: 'expvar_memstats_heap_alloc', instance: `127.0.0.1:${port}`, job: 'app' });
    assert.equal(last(heap.values), 2048);
    fail = true;
    await new Promise((r) => setTimeout(r, 5));
    await m.collectOnce();
    fail = false;
    assert.match(m.status()[0].lastError, /HTTP status 500/);
    assert.equal(last(read(storage, name('up'))[0].values), 0);
    assert.ok(isStaleNaN(last(read(storage, name('expvar_memstats_heap_alloc'))[0].values)));
    await m.stop();
  });
});

describe('GET /api/patrol/v1/collectors', () => {
  it('lists the host collector and custom collectors with their last error', async () => {
    const { default: Fastify } = await import('fastify');
    const { HostCollector } = await import('../host/collector.js');
    const { registerCollectorsApi } = await import('../api/collectors.js');
    const storage = new MemoryStorage();
    const host = new HostCollector(runtime(storage));
    const m = new CollectorsManager(runtime(storage));
    const cfg = config('host: {interval: 1h}\ncollectors:\n  scripts:\n    - {name: broken, command: /bin/false, interval: 1h}\n');
    await host.applyConfig(cfg);
    await m.applyConfig(cfg, { dir });
    await host.collectOnce();
    await m.collectOnce();
    const app = Fastify();
    registerCollectorsApi(app, () => ({ host, collectors: m }));
    const res = await app.inject({ method: 'GET', url: '/api/patrol/v1/collectors' });
    const body = res.json<{ status: string; data: { host: { health: string; job: string; samples: number }; collectors: { name: string; health: string; lastError: string }[] } }>();
    assert.equal(body.status, 'success');
    assert.equal(body.data.host.health, 'up');
    assert.equal(body.data.host.job, 'host');
    assert.ok(body.data.host.samples > 50);
    assert.deepEqual(
      body.data.collectors.map((c) => [c.name, c.health, c.lastError]),
      [['broken', 'down', 'exited with status 1']],
    );
    await app.close();
    await host.stop();
    await m.stop();
  });
});
