import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { Runtime } from '../component.js';
import { parseConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { labelsToRecord, metricName } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { isStaleNaN } from '../model/value.js';
import { parseExposition } from '../textparse/parser.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { registerCollectorsApi } from '../api/collectors.js';
import { HostCollector, readHostSamples, TARGET_HEALTH_SERIES, type HostReader } from './collector.js';
import { MOUNT_POINTS_EXCLUDE, parseDiskstats, parseMeminfo, parseMounts, parseNetDev, parseStat, type HostSample } from './procfs.js';
import { freePort } from '../testing/net.js';
import { binaryPath, needBinary } from '../testing/shared.js';

const NODE_EXPORTER = binaryPath('prometheus-node-exporter');

function config(text: string): Config {
  const r = parseConfig(text, 'test.yml');
  if (!r.ok) throw new Error(r.errors.map(String).join('\n'));
  return r.config;
}

function runtime(storage = new MemoryStorage()): Runtime {
  return { storage, logger: pino({ level: 'silent' }), registry: new Registry(), listen: '127.0.0.1:0', dataDir: '/tmp' };
}

/** Latest value of every series in storage, keyed by name, with its labels. */
function stored(storage: MemoryStorage): { name: string; labels: Record<string, string>; value: number }[] {
  const q = storage.querier(0, Date.now() + 60_000);
  const set = q.select({ start: 0, end: Date.now() + 60_000 }, [new Matcher('=~', '__name__', '.+')]);
  const out = collectSeries(set).map((s) => {
    const { values } = loadSamples(s.iterator());
    return { name: metricName(s.labels), labels: labelsToRecord(s.labels), value: values[values.length - 1] };
  });
  q.close();
  return out;
}


function readNodeExporter(body: string): { name: string; labels: Record<string, string>; value: number }[] {
  return parseExposition(body).samples.map((s) => ({ name: metricName(s.labels), labels: labelsToRecord(s.labels), value: s.value }));
}

describe('procfs parsers', () => {
  it('reads /proc/stat CPU modes in seconds and the kernel counters', () => {
    const out: HostSample[] = [];
    parseStat('cpu  300 0 100 9000 5 0 2 1 0 0\ncpu0 150 1 50 4500 3 0 1 1 7 0\nintr 12345 1 2\nctxt 999\nbtime 1700000000\nprocesses 4242\nprocs_running 3\nprocs_blocked 1\n', out);
    const get = (name: string, labels?: Record<string, string>) => out.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels))?.value;
    assert.equal(get('node_cpu_seconds_total', { cpu: '0', mode: 'user' }), 1.5);
    assert.equal(get('node_cpu_seconds_total', { cpu: '0', mode: 'idle' }), 45);
    assert.equal(get('node_cpu_guest_seconds_total', { cpu: '0', mode: 'user' }), 0.07);
    assert.equal(out.filter((s) => s.name === 'node_cpu_seconds_total').length, 8, 'the aggregate "cpu" line is not a CPU');
    assert.equal(get('node_boot_time_seconds'), 1700000000);
    assert.equal(get('node_context_switches_total'), 999);
    assert.equal(get('node_forks_total'), 4242);
    assert.equal(get('node_intr_total'), 12345);
    assert.equal(get('node_procs_running'), 3);
    assert.equal(get('node_procs_blocked'), 1);
  });

  it('names meminfo fields like node_exporter', () => {
    const out: HostSample[] = [];
    parseMeminfo('MemTotal:       16000 kB\nActive(anon):     12 kB\nHugePages_Total:       4\ngarbage line\n', out);
    assert.deepEqual(out, [
      { name: 'node_memory_MemTotal_bytes', value: 16000 * 1024 },
      { name: 'node_memory_Active_anon_bytes', value: 12 * 1024 },
      { name: 'node_memory_HugePages_Total', value: 4 },
    ]);
  });

  it('skips pseudo filesystems and excluded mount points, unescapes paths', () => {
    const mounts = parseMounts(
      'proc /proc proc rw 0 0\n/dev/sda1 / ext4 rw,relatime 0 0\ntmpfs /run/user/1000 tmpfs rw 0 0\n/dev/sdb1 /mnt/my\\040disk xfs ro,noatime 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n/dev/sda1 / ext4 rw 0 0\noverlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n',
      MOUNT_POINTS_EXCLUDE,
    );
    assert.deepEqual(
      mounts.map((m) => [m.device, m.mountpoint, m.fstype, m.readonly]),
      [
        ['/dev/sda1', '/', 'ext4', false],
        ['tmpfs', '/run/user/1000', 'tmpfs', false],
        ['/dev/sdb1', '/mnt/my disk', 'xfs', true],
      ],
    );
  });

  it('drops partitions from diskstats and scales sectors and milliseconds', () => {
    const out: HostSample[] = [];
    parseDiskstats('   8       0 sda 10 1 200 30 20 2 400 50 0 60 70 0 0 0 0 0 0\n   8       1 sda1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n', out);
    assert.ok(out.every((s) => s.labels?.device === 'sda'));
    const get = (n: string) => out.find((s) => s.name === n)?.value;
    assert.equal(get('node_disk_reads_completed_total'), 10);
    assert.equal(get('node_disk_read_bytes_total'), 200 * 512);
    assert.equal(get('node_disk_written_bytes_total'), 400 * 512);
    assert.equal(get('node_disk_io_time_seconds_total'), 0.06);
  });

  it('takes network field names from the /proc/net/dev header', () => {
    const out: HostSample[] = [];
    parseNetDev(
      'Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n  eth0: 100 2 0 1 0 0 0 0 300 4 5 0 0 0 0 0\n',
      out,
    );
    const get = (n: string) => out.find((s) => s.name === n && s.labels?.device === 'eth0')?.value;
    assert.equal(get('node_network_receive_bytes_total'), 100);
    assert.equal(get('node_network_receive_drop_total'), 1);
    assert.equal(get('node_network_transmit_bytes_total'), 300);
    assert.equal(get('node_network_transmit_errs_total'), 5);
  });
});

describe('HostCollector', () => {
  it('stores host series with job and instance, and marks vanished series stale', async () => {
    const storage = new MemoryStorage();
    const c = new HostCollector(runtime(storage));
    await c.applyConfig(config('host:\n  job: machine\n  labels: {dc: eu1}\n  interval: 1h\n'));
    const r = await c.collectOnce();
    assert.deepEqual(r.failures, []);
    const series = stored(storage);
    const mem = series.find((s) => s.name === 'node_memory_MemTotal_bytes');
    assert.ok(mem, 'MemTotal stored');
    assert.deepEqual(mem.labels, { __name__: 'node_memory_MemTotal_bytes', job: 'machine', instance: hostname(), dc: 'eu1' });
    for (const name of ['node_cpu_seconds_total', 'node_load1', 'node_filefd_allocated', 'node_boot_time_seconds', 'node_time_seconds', 'node_uname_info', 'node_procs_running', 'node_network_receive_bytes_total']) {
      assert.ok(series.some((s) => s.name === name), `${name} stored`);
    }
    // Changing labels ends the old series with a staleness marker.
    await c.applyConfig(config('host:\n  job: machine2\n  interval: 1h\n'));
    await c.stop();
    const old = stored(storage).filter((s) => s.labels.job === 'machine');
    assert.ok(old.length > 0);
    assert.ok(old.every((s) => isStaleNaN(s.value)), 'every old series ends with a staleness marker');
  });

  it('runs on its interval and stops', async () => {
    const storage = new MemoryStorage();
    const c = new HostCollector(runtime(storage));
    await c.applyConfig(config('host:\n  interval: 50ms\n'));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const up = stored(storage).find((s) => s.name === 'node_load1');
      if (up) {
        const q = storage.querier(0, Date.now());
        const [s] = collectSeries(q.select({ start: 0, end: Date.now() }, [new Matcher('=', '__name__', 'node_load1')]));
        if (loadSamples(s.iterator()).values.length >= 3) break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await c.stop();
    const q = storage.querier(0, Date.now());
    const [s] = collectSeries(q.select({ start: 0, end: Date.now() }, [new Matcher('=', '__name__', 'node_load1')]));
    assert.ok(loadSamples(s.iterator()).values.length >= 3, 'collected at least three times');
  });

  it('writes up, scrape_duration_seconds and scrape_samples_scraped like a scraped target', async () => {
    const storage = new MemoryStorage();
    const c = new HostCollector(runtime(storage));
    await c.applyConfig(config('host:\n  interval: 1h\n'));
    const r = await c.collectOnce();
    await c.stop();
    const series = stored(storage);
    const up = series.find((s) => s.name === 'up');
    assert.deepEqual(up, { name: 'up', labels: { __name__: 'up', job: 'host', instance: hostname() }, value: 1 });
    assert.equal(series.find((s) => s.name === 'scrape_samples_scraped')?.value, r.samples);
    assert.ok(series.find((s) => s.name === 'scrape_duration_seconds')!.value > 0);
    assert.equal(c.status().health, 'up');
  });

  it('a section that cannot be read makes up 0, with the reason in the collectors API', async () => {
    // A procfs with only some of its files: the other sections fail, loadavg is still stored.
    const dir = mkdtempSync(join(tmpdir(), 'patrol-procfs-'));
    writeFileSync(join(dir, 'loadavg'), '0.50 0.40 0.30 1/100 12345\n');
    const storage = new MemoryStorage();
    const c = new HostCollector(runtime(storage));
    try {
      await c.applyConfig(config(`host:\n  interval: 1h\n  procfs: ${JSON.stringify(dir)}\n`));
      const r = await c.collectOnce();
      assert.ok(r.failures.some((f) => f.collector === 'meminfo'));
      const series = stored(storage);
      assert.equal(series.find((s) => s.name === 'up')?.value, 0);
      assert.equal(series.find((s) => s.name === 'node_load1')?.value, 0.5);
      const app = Fastify();
      registerCollectorsApi(app, () => ({ host: c, collectors: null }));
      const res = await app.inject({ url: '/api/patrol/v1/collectors' });
      const host = (res.json() as { data: { host: { health: string; lastError: string } } }).data.host;
      assert.equal(host.health, 'down');
      assert.match(host.lastError, /meminfo: ENOENT: no such file or directory, open '.*meminfo'/);
      await app.close();
    } finally {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a collection that throws makes up 0, ends the other series and recovers', async () => {
    const storage = new MemoryStorage();
    let fail = false;
    const reader: HostReader = async (procfs, sysfs, stuck) => {
      if (fail) throw new Error('injected collector failure');
      return readHostSamples(procfs, sysfs, stuck);
    };
    const c = new HostCollector(runtime(storage), reader);
    await c.applyConfig(config('host:\n  interval: 1h\n'));
    await c.collectOnce();
    fail = true;
    await new Promise((r) => setTimeout(r, 5));
    const r = await c.collectOnce();
    assert.deepEqual(r.failures, [{ collector: 'host', error: 'injected collector failure' }]);
    let series = stored(storage);
    assert.equal(series.find((s) => s.name === 'up')?.value, 0);
    assert.ok(isStaleNaN(series.find((s) => s.name === 'node_load1')!.value), 'host series end with a staleness marker');
    assert.deepEqual({ health: c.status().health, lastError: c.status().lastError }, { health: 'down', lastError: 'host: injected collector failure' });
    fail = false;
    await new Promise((r) => setTimeout(r, 5));
    await c.collectOnce();
    await c.stop();
    series = stored(storage);
    assert.equal(series.find((s) => s.name === 'up')?.value, 1);
    assert.equal(c.status().health, 'up');
  });

  it('stores nothing when disabled', async () => {
    const storage = new MemoryStorage();
    const c = new HostCollector(runtime(storage));
    await c.applyConfig(config('host:\n  enabled: false\n'));
    await assert.rejects(c.collectOnce(), /disabled/);
    await c.stop();
    assert.equal(stored(storage).length, 0);
  });
});

describe('HostCollector side by side with node_exporter', { skip: needBinary('prometheus-node-exporter') }, () => {
  let proc: ChildProcess | null = null;
  let body = '';

  before(async () => {
    const port = await freePort();
    proc = spawn(
      NODE_EXPORTER,
      [
        `--web.listen-address=127.0.0.1:${port}`,
        '--collector.disable-defaults',
        ...['cpu', 'meminfo', 'filesystem', 'diskstats', 'netdev', 'netclass', 'loadavg', 'stat', 'filefd', 'time', 'uname'].map((c) => `--collector.${c}`),
        // Debian patches these defaults; pass upstream's so both sides pick the same devices.
        `--collector.filesystem.mount-points-exclude=${MOUNT_POINTS_EXCLUDE.source.replaceAll('\\/', '/')}`,
        '--collector.netdev.device-exclude=^$',
      ],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`);
        if (res.ok) {
          body = await res.text();
          break;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(body.length > 0, 'node_exporter answered');
  });

  after(() => {
    proc?.kill('SIGTERM');
  });

  it('produces only metric names node_exporter has, with the same label names and close values', async () => {
    const storage = new MemoryStorage();
    const c = new HostCollector(runtime(storage));
    await c.applyConfig(config('host:\n  interval: 1h\n'));
    await c.collectOnce();
    await c.stop();
    // up and scrape_* are what a scraping Prometheus adds, not node_exporter's own series.
    const ours = stored(storage).filter((s) => !(TARGET_HEALTH_SERIES as readonly string[]).includes(s.name));
    const theirs = readNodeExporter(body);
    const theirLabelNames = new Map<string, Set<string>>();
    for (const s of theirs) theirLabelNames.set(s.name, new Set(Object.keys(s.labels).sort()));
    const names = new Set(ours.map((s) => s.name));
    assert.ok(names.size > 60, `expected many host metrics, got ${names.size}`);
    for (const s of ours) {
      assert.ok(theirLabelNames.has(s.name), `node_exporter has no ${s.name}`);
      // Per-device series can differ in labels (empty values are dropped), so compare like with like.
      const twin = theirs.find((t) => t.name === s.name && t.labels.device === s.labels.device) ?? theirs.find((t) => t.name === s.name)!;
      const got = Object.keys(s.labels).filter((n) => n !== 'job' && n !== 'instance');
      assert.deepEqual(got.sort(), Object.keys(twin.labels).sort(), `label names of ${s.name}{device=${s.labels.device ?? ''}}`);
    }
    const info = (list: typeof ours) => list.filter((s) => s.name === 'node_network_info').map((s) => JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== 'job' && k !== 'instance').sort()));
    assert.deepEqual(info(ours).sort(), info(theirs).sort(), 'node_network_info is identical');
    // Every memory field node_exporter reports, we report too.
    for (const n of theirLabelNames.keys()) if (n.startsWith('node_memory_')) assert.ok(names.has(n), `missing ${n}`);

    const one = (list: typeof ours, name: string, labels: Record<string, string> = {}) =>
      list.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
    assert.equal(one(ours, 'node_memory_MemTotal_bytes'), one(theirs, 'node_memory_MemTotal_bytes'));
    assert.equal(one(ours, 'node_memory_SwapTotal_bytes'), one(theirs, 'node_memory_SwapTotal_bytes'));
    assert.equal(one(ours, 'node_boot_time_seconds'), one(theirs, 'node_boot_time_seconds'));
    assert.equal(one(ours, 'node_filefd_maximum'), one(theirs, 'node_filefd_maximum'));
    const cpus = (list: typeof ours) => new Set(list.filter((s) => s.name === 'node_cpu_seconds_total').map((s) => s.labels.cpu)).size;
    assert.equal(cpus(ours), cpus(theirs));
    assert.ok(cpus(ours) >= 1);

    const fsKey = (s: { labels: Record<string, string> }) => `${s.labels.device} ${s.labels.fstype} ${s.labels.mountpoint}`;
    const ourFs = ours.filter((s) => s.name === 'node_filesystem_size_bytes');
    const theirFs = theirs.filter((s) => s.name === 'node_filesystem_size_bytes');
    assert.deepEqual(ourFs.map(fsKey).sort(), theirFs.map(fsKey).sort(), 'same filesystems');
    for (const s of ourFs) assert.equal(s.value, theirFs.find((t) => fsKey(t) === fsKey(s))?.value, `size of ${fsKey(s)}`);

    const devs = (list: typeof ours, name: string) => list.filter((s) => s.name === name).map((s) => s.labels.device).sort();
    assert.deepEqual(devs(ours, 'node_disk_reads_completed_total'), devs(theirs, 'node_disk_reads_completed_total'), 'same disks');
    // Counters only grow: ours were read after node_exporter's.
    for (const d of devs(ours, 'node_disk_reads_completed_total')) {
      const a = one(theirs, 'node_disk_reads_completed_total', { device: d })!;
      const b = one(ours, 'node_disk_reads_completed_total', { device: d })!;
      assert.ok(b >= a, `disk ${d} reads ${b} >= ${a}`);
    }
    const cpuUser = (list: typeof ours) => list.filter((s) => s.name === 'node_cpu_seconds_total' && s.labels.mode === 'user').reduce((a, s) => a + s.value, 0);
    const diff = cpuUser(ours) - cpuUser(theirs);
    assert.ok(diff >= 0 && diff < 120, `user CPU seconds grow between the two reads (diff ${diff})`);
    const uname = ours.find((s) => s.name === 'node_uname_info')!.labels;
    const theirUname = theirs.find((s) => s.name === 'node_uname_info')!.labels;
    for (const k of ['sysname', 'release', 'version', 'machine', 'nodename', 'domainname']) assert.equal(uname[k], theirUname[k], `uname ${k}`);
  });
});
