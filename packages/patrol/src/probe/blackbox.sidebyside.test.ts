// Side by side with Debian's blackbox_exporter: the same local targets probed by both, and every
// series an http probe writes compared by name, labels and value (timings excluded). What
// differs on purpose is listed in INTENDED below, with the reason; anything else fails.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { labelsToRecord } from '../model/labels.js';
import { Matcher } from '../model/matchers.js';
import { collectSeries, loadSamples } from '../storage/interface.js';
import { MemoryStorage } from '../storage/memory.js';
import { binaryPath, needBinary } from '../testing/shared.js';
import { ResultWriter } from './metrics.js';
import { compileProbe, runProbe } from './run.js';
import { probesFromYaml } from './testdata/helpers.js';
import { closedPort, makeCerts, startHttp, startHttps, type CertSet } from './testdata/servers.js';

const BLACKBOX = 'prometheus-blackbox-exporter';
const skip = needBinary(BLACKBOX);

/** Series whose values are timings: compared by presence only. */
const TIMINGS = new Set(['probe_http_duration_seconds', 'probe_dns_lookup_time_seconds', 'probe_duration_seconds']);

/**
 * Differences kept on purpose: `case/series` → why. Empty means Patrol matches blackbox on
 * every series of every case below.
 */
const INTENDED: Record<string, string> = {};

type Series = Map<string, number>;

function key(name: string, labels: Record<string, string>): string {
  const ls = Object.entries(labels)
    .filter(([k]) => k !== '__name__')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return ls.length ? `${name}{${ls.join(',')}}` : name;
}

/** The text exposition blackbox answers, as series key → value (comments skipped). */
function parseExposition(text: string): Series {
  const out: Series = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable line from blackbox: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) for (const lm of m[2].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = JSON.parse(`"${lm[2]}"`) as string;
    out.set(key(m[1], labels), Number(m[3]));
  }
  return out;
}

interface Case {
  name: string;
  path: string;
  /** Which target: the plain HTTP server, the HTTPS one, or a refused port. */
  on: 'http' | 'https' | 'refused';
  /** blackbox module, and the matching Patrol probe fields. */
  module: string;
  patrol: Record<string, unknown>;
  success: boolean;
}

describe('http probe metrics side by side with blackbox_exporter', { skip }, () => {
  let certs: CertSet;
  let plain: Awaited<ReturnType<typeof startHttp>>;
  let secure: Awaited<ReturnType<typeof startHttps>>;
  let refusedPort: number;
  let bb: ChildProcess | undefined;
  let bbUrl = '';
  let dir = '';
  let bbLog = '';
  const rows: string[] = [];

  before(async () => {
    certs = makeCerts();
    const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
      const u = new URL(req.url ?? '/', 'http://x');
      switch (u.pathname) {
        case '/ok':
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '8', 'last-modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
          res.end('all good');
          return;
        case '/chunked':
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('part one, ');
          res.end('part two');
          return;
        case '/404':
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found here');
          return;
        case '/500':
          res.writeHead(500, { 'content-type': 'text/plain', 'content-length': '5' });
          res.end('oops!');
          return;
        case '/redirect':
          res.writeHead(302, { location: '/redirect2' });
          res.end('moved');
          return;
        case '/redirect2':
          res.writeHead(301, { location: '/ok' });
          res.end();
          return;
        case '/loop':
          res.writeHead(302, { location: '/loop' });
          res.end('again');
          return;
        case '/gzip': {
          const b = gzipSync('compressed hello '.repeat(20));
          res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip', 'content-length': String(b.length) });
          res.end(b);
          return;
        }
        case '/204':
          res.writeHead(204);
          res.end();
          return;
        case '/hang':
          return; // accepted, never answered
        default:
          res.writeHead(400);
          res.end();
      }
    };
    plain = await startHttp(handler);
    secure = await startHttps(certs.good, handler);
    refusedPort = await closedPort();
    dir = mkdtempSync(join(tmpdir(), 'patrol-blackbox-'));
    const common = '    prober: http\n    timeout: 2s\n    http:\n      preferred_ip_protocol: ip4\n';
    writeFileSync(
      join(dir, 'blackbox.yml'),
      'modules:\n' +
        `  plain:\n${common}` +
        `  no_follow:\n${common}      follow_redirects: false\n` +
        `  trusted:\n${common}      tls_config:\n        ca_file: ${certs.caFile}\n` +
        `  regex:\n${common}      fail_if_body_not_matches_regexp: ["good"]\n`,
    );
    const port = await closedPort();
    bbUrl = `http://127.0.0.1:${port}`;
    bb = spawn(binaryPath(BLACKBOX), [`--config.file=${join(dir, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    bb.stdout!.on('data', (c: Buffer) => (bbLog += c.toString()));
    bb.stderr!.on('data', (c: Buffer) => (bbLog += c.toString()));
    const end = Date.now() + 15000;
    for (;;) {
      try {
        const r = await fetch(`${bbUrl}/-/healthy`);
        if (r.ok) break;
      } catch {
        /* not yet listening */
      }
      if (Date.now() > end || bb.exitCode !== null) assert.fail(`blackbox_exporter did not start:\n${bbLog}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    if (rows.length) process.stdout.write(`# blackbox_exporter vs Patrol (case | series | blackbox | Patrol)\n${rows.map((r) => `# ${r}`).join('\n')}\n`);
    if (bb && bb.exitCode === null) {
      const exited = new Promise((r) => bb!.once('exit', r));
      bb.kill('SIGTERM');
      await exited;
    }
    await plain?.close();
    await secure?.close();
    certs?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function targetOf(c: Case): string {
    if (c.on === 'refused') return `http://127.0.0.1:${refusedPort}${c.path}`;
    return `${c.on === 'https' ? secure.url : plain.url}${c.path}`;
  }

  async function blackbox(c: Case): Promise<Series> {
    const r = await fetch(`${bbUrl}/probe?module=${c.module}&target=${encodeURIComponent(targetOf(c))}`);
    assert.equal(r.status, 200, `blackbox /probe answered ${r.status}`);
    return parseExposition(await r.text());
  }

  async function patrol(c: Case): Promise<Series> {
    const fields = { name: c.name, type: 'http', target: targetOf(c), interval: '30s', timeout: '2s', ...c.patrol };
    const [cfg] = probesFromYaml(`  - ${JSON.stringify(fields)}\n`);
    const probe = compileProbe(cfg, '.');
    const result = await runProbe(probe);
    const storage = new MemoryStorage();
    const app = storage.appender();
    new ResultWriter(probe).write(app, result);
    app.commit();
    const out: Series = new Map();
    const q = storage.querier(0, Date.now() + 60_000);
    for (const s of collectSeries(q.select({ start: 0, end: Date.now() + 60_000 }, [new Matcher('=', 'probe', c.name)]))) {
      const rec = labelsToRecord(s.labels);
      const name = rec.__name__;
      // The identifying labels blackbox leaves to the scraping Prometheus.
      delete rec.probe;
      delete rec.instance;
      const { values } = loadSamples(s.iterator());
      out.set(key(name, rec), values[values.length - 1]);
    }
    q.close();
    return out;
  }

  const cases: Case[] = [
    { name: 'ok', path: '/ok', on: 'http', module: 'plain', patrol: {}, success: true },
    { name: 'chunked', path: '/chunked', on: 'http', module: 'plain', patrol: {}, success: true },
    { name: '4xx', path: '/404', on: 'http', module: 'plain', patrol: {}, success: false },
    { name: '5xx', path: '/500', on: 'http', module: 'plain', patrol: {}, success: false },
    { name: 'redirects', path: '/redirect', on: 'http', module: 'plain', patrol: {}, success: true },
    { name: 'redirect not followed', path: '/redirect', on: 'http', module: 'no_follow', patrol: { follow_redirects: false }, success: false },
    { name: 'redirect loop', path: '/loop', on: 'http', module: 'plain', patrol: {}, success: false },
    { name: 'gzip', path: '/gzip', on: 'http', module: 'plain', patrol: {}, success: true },
    { name: '204', path: '/204', on: 'http', module: 'plain', patrol: {}, success: true },
    { name: 'body regex fails', path: '/404', on: 'http', module: 'regex', patrol: { conditions: ['[STATUS] == 2xx', '[BODY] =~ "good"'] }, success: false },
    { name: 'body regex passes', path: '/ok', on: 'http', module: 'regex', patrol: { conditions: ['[STATUS] == 2xx', '[BODY] =~ "good"'] }, success: true },
    { name: 'body regex fails on a 2xx', path: '/chunked', on: 'http', module: 'regex', patrol: { conditions: ['[STATUS] == 2xx', '[BODY] =~ "good"'] }, success: false },
    { name: 'timeout', path: '/hang', on: 'http', module: 'plain', patrol: {}, success: false },
    { name: 'refused', path: '/', on: 'refused', module: 'plain', patrol: {}, success: false },
    { name: 'TLS trusted', path: '/ok', on: 'https', module: 'trusted', patrol: { tls_config: { ca_file: '' } }, success: true },
    { name: 'TLS untrusted', path: '/ok', on: 'https', module: 'plain', patrol: {}, success: false },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      if (c.patrol.tls_config) c.patrol.tls_config = { ca_file: certs.caFile };
      const [b, p] = await Promise.all([blackbox(c), patrol(c)]);
      assert.equal(b.get('probe_success'), c.success ? 1 : 0, `blackbox probe_success (is the case set up right?)\n${bbLog.slice(-2000)}`);
      const problems: string[] = [];
      for (const k of new Set([...b.keys(), ...p.keys()])) {
        const name = k.replace(/\{.*$/, '');
        const bv = b.get(k);
        const pv = p.get(k);
        const timing = TIMINGS.has(name);
        const same = bv !== undefined && pv !== undefined && (timing || bv === pv);
        rows.push(`${c.name} | ${k} | ${bv === undefined ? '(none)' : timing ? 'timing' : bv} | ${pv === undefined ? '(none)' : timing ? 'timing' : pv}${same ? '' : ' ≠'}`);
        if (same) continue;
        const why = INTENDED[`${c.name}/${name}`];
        if (!why) problems.push(`${k}: blackbox ${bv ?? '(no series)'}, Patrol ${pv ?? '(no series)'}`);
      }
      assert.deepEqual(problems, [], `differences from blackbox_exporter for ${c.name}`);
    });
  }
});
