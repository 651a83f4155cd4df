// Probing from several locations: a central `patrol start` and `patrol agent` processes (killed
// and restarted here). Agents take their probes from the central, results come back labelled
// `location`; the quorum decides DOWN and its reason names the locations; a killed agent is an
// offline location (patrol_agent_up 0); a wrong token and a clock off by minutes are refused
// with a reason; results survive the central being down (buffered by the agents on disk).
// The quorum itself is also checked in-process with results from three locations.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '../config/load.js';
import { freePort } from '../testing/net.js';
import { ProbeManager } from './manager.js';
import { testRuntime } from './testdata/runtime.js';
import { startHttp } from './testdata/servers.js';
import { quorumState } from './remote.js';
import { ClockOffsets } from '../api/agents.js';

const repo = resolve(fileURLToPath(new URL('../../../..', import.meta.url)));
const cli = join(repo, 'packages/patrol/src/cli/main.ts');

async function until<T>(what: string, f: () => Promise<T | undefined | false>, bound = 60_000): Promise<T> {
  const deadline = Date.now() + bound;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Proc {
  proc: ChildProcess;
  out: () => string;
}

function run(args: string[], env: Record<string, string> = {}): Proc {
  const proc = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

function killed(p: Proc | null): Promise<void> {
  return new Promise((r) => {
    if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return r();
    p.proc.once('exit', () => r());
    p.proc.kill('SIGKILL');
  });
}

describe('agents in several locations (separate processes)', { timeout: 240_000 }, () => {
  let dir: string;
  let target: Awaited<ReturnType<typeof startHttp>>;
  let healthy = true;
  let port: number;
  let base: string;
  let central: Proc | null = null;
  const agents = new Map<string, Proc>();
  let proxy: Awaited<ReturnType<typeof startHttp>> | undefined;

  const startCentral = async () => {
    central = run(['start', '--config', join(dir, 'patrol.yml'), '--data', join(dir, 'data'), '--listen', `127.0.0.1:${port}`, '--log.format', 'json']);
    const c = central;
    await until('the central Patrol', async () => {
      if (c.proc.exitCode !== null) throw new Error(`central exited: ${c.out()}`);
      return (await fetch(`${base}/-/ready`)).ok;
    }, 120_000);
  };
  const startAgent = (loc: string, token = `tok-${loc}`, server = base): Proc => {
    const a = run(['agent', '--server', server, '--location', loc, '--data', join(dir, `agent-${loc}`), '--poll-interval', '1s', '--send-interval', '300ms', '--log.format', 'json'], { PATROL_AGENT_TOKEN: token });
    agents.set(loc, a);
    return a;
  };
  const probe = async () => ((await (await fetch(`${base}/api/patrol/v1/probes/web`)).json()) as { data: { state: string; reason: string; locations: Record<string, { state: string; offline: boolean }> } }).data;
  const query = async (q: string) => ((await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-agents-'));
    target = await startHttp((_req, res) => {
      res.writeHead(healthy ? 200 : 503);
      res.end(healthy ? 'ok' : 'down');
    });
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    writeFileSync(
      join(dir, 'patrol.yml'),
      `agents:
  tokens: {eu: tok-eu, us: tok-us, ap: tok-ap, lossy: tok-lossy}
  offline_after: 3s
probes:
  - name: web
    type: http
    target: ${target.url}/health
    interval: 300ms
    timeout: 250ms
    failure_threshold: 1
    locations: [eu, us, ap]
    down_when: 2 of 3
  - {name: solo, type: http, target: "${target.url}/health", interval: 300ms, timeout: 250ms, locations: [lossy]}
`,
    );
    await startCentral();
    for (const loc of ['eu', 'us', 'ap']) startAgent(loc);
  });
  after(async () => {
    for (const a of agents.values()) await killed(a);
    await killed(central);
    await target?.close();
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('agents run the central probes; results carry location; the quorum decides DOWN and names the locations', async () => {
    await until('web UP from the three locations', async () => {
      const p = await probe();
      return p.state === 'up' && ['eu', 'us', 'ap'].every((l) => p.locations[l]?.state === 'up');
    });
    const series = await query('probe_success{probe="web"}');
    assert.deepEqual(series.map((s) => s.metric.location).sort(), ['ap', 'eu', 'us']);
    healthy = false;
    await until('web DOWN', async () => (await probe()).state === 'down');
    assert.match((await probe()).reason, /^(eu|us|ap): status 503 not in \[2xx\]$/);
    healthy = true;
    await until('web UP again', async () => (await probe()).state === 'up');
    const events = ((await (await fetch(`${base}/api/patrol/v1/probes/web/events`)).json()) as { data: { from: string; to: string; reason: string }[] }).data;
    const down = events.find((e) => e.from === 'up' && e.to === 'down');
    assert.ok(down, JSON.stringify(events));
    assert.match(down.reason, /^[23] of 3 locations see it DOWN \(down_when 2\): DOWN from .*status 503 not in \[2xx\]/);
  });

  it('a killed agent is an offline location; restarted, it reports again', async () => {
    await killed(agents.get('eu')!);
    await until('eu offline', async () => {
      const a = ((await (await fetch(`${base}/api/patrol/v1/agents`)).json()) as { data: { location: string; up: boolean }[] }).data;
      return a.find((x) => x.location === 'eu')?.up === false;
    }, 30_000);
    await until('patrol_agent_up{location="eu"} 0', async () => (await query('patrol_agent_up{location="eu"}'))[0]?.value[1] === '0', 30_000);
    assert.equal((await probe()).locations.eu.offline, true);
    startAgent('eu');
    await until('eu back', async () => (await query('patrol_agent_up{location="eu"}'))[0]?.value[1] === '1', 60_000);
  });

  it('a wrong token is refused with a reason, and nothing crashes', async () => {
    const bad = startAgent('mars', 'not-a-token');
    await until('the refusal in the agent log', async () => bad.out().includes('unknown agent token'), 60_000);
    assert.ok(!bad.out().includes('not-a-token'), 'the token is not logged');
    await killed(bad);
    agents.delete('mars');
    const res = await fetch(`${base}/api/patrol/v1/agent/probes`, { headers: { authorization: 'Bearer nope' } });
    assert.equal(res.status, 401);
    assert.equal(central!.proc.exitCode, null);
  });

  it('a batch sent again after its answer was lost is stored once', async () => {
    // Between the lossy agent and the central: the first four result posts reach the central,
    // which stores them, and then the answer is lost (the connection is cut), so the agent
    // sends those results again with its next batch.
    let cut = 0;
    proxy = await startHttp((req, res) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const r = await fetch(base + req.url!, { method: req.method, headers: { authorization: String(req.headers.authorization), 'content-type': 'application/json' }, body: req.method === 'POST' ? Buffer.concat(chunks) : undefined });
        const text = await r.text();
        if (req.url!.endsWith('/results') && cut < 4) {
          cut++;
          req.socket.destroy();
          return;
        }
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(text);
      })().catch(() => req.socket.destroy());
    });
    startAgent('lossy', 'tok-lossy', proxy.url);
    await until('four answers lost', async () => cut >= 4, 60_000);
    // The raw samples of the last minute: one per run, 300 ms apart; a batch stored twice would
    // put a second sample a few milliseconds from each of its results.
    const raw = await until('results after the losses', async () => {
      const r = await query('probe_success{probe="solo",location="lossy"}[1m]');
      const values = (r[0] as unknown as { values?: [number, string][] })?.values ?? [];
      return values.length >= 10 ? values.map((v) => v[0] * 1000) : undefined;
    });
    for (let i = 1; i < raw.length; i++) assert.ok(raw[i] - raw[i - 1] >= 150, `samples ${raw[i - 1]} and ${raw[i]} are ${raw[i] - raw[i - 1]} ms apart: a result stored twice`);
  });

  it('a report from a clock minutes off is refused naming the offset', async () => {
    const res = await fetch(`${base}/api/patrol/v1/agent/results`, {
      method: 'POST',
      headers: { authorization: 'Bearer tok-us', 'content-type': 'application/json' },
      body: JSON.stringify({ sent_at: Date.now() - 5 * 60_000, results: [{ probe: 'web', time: Date.now() - 5 * 60_000, success: true, duration_seconds: 0.01, reason: '' }] }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { errorType: string; error: string };
    assert.equal(body.errorType, 'clock_skew');
    assert.match(body.error, /^the clock of agent us is 5m behind this Patrol's \(max_clock_skew 1m\)/);
    const junk = await fetch(`${base}/api/patrol/v1/agent/results`, { method: 'POST', headers: { authorization: 'Bearer tok-us', 'content-type': 'application/json' }, body: JSON.stringify({ sent_at: Date.now(), results: [{ probe: 'nope', time: Date.now(), success: true, duration_seconds: 0, reason: '' }, 42] }) });
    const j = (await junk.json()) as { data: { accepted: number; rejected: string[] } };
    assert.equal(j.data.accepted, 0);
    assert.deepEqual(j.data.rejected, ['"nope": not a probe of location "us"', 'a result is not an object']);
  });

  it('results survive the central being down: the agents buffer them on disk and send them after', async () => {
    await killed(central);
    const downAt = Date.now();
    await until('the buffer on disk', async () => existsSync(join(dir, 'agent-us', 'agent-buffer.jsonl')) && (await new Promise<boolean>((r) => setTimeout(() => r(true), 1500))), 30_000);
    const upAt = Date.now();
    await startCentral();
    // Samples stamped inside the outage (a range query would also show older ones by lookback).
    const window = Math.max(500, upAt - downAt - 200);
    await until('results from the outage stored', async () => {
      const r = (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(`count_over_time(probe_success{location="us"}[${window}ms])`)}&time=${(upAt - 100) / 1000}`)).json()) as { data: { result: { value: [number, string] }[] } };
      return Number(r.data.result[0]?.value[1] ?? 0) >= 3;
    }, 60_000);
  });
});

describe("an agent's clock offset", () => {
  it('is the least delayed of the recent batches, per location, and follows a real change', () => {
    const o = new ClockOffsets();
    // The agent's clock is 40 ms ahead; batches arrive 5 to 900 ms after they were sent.
    const skews = [35, -860, 30, -400, 20, -120];
    assert.deepEqual(
      skews.map((s) => o.estimate('eu', s)),
      [35, 35, 35, 35, 35, 35],
    );
    assert.equal(o.estimate('us', -300), -300, 'another location has its own');
    // The clock is stepped back by two seconds (NTP): after the window, the estimate follows.
    let last = 0;
    for (let i = 0; i < 30; i++) last = o.estimate('eu', -1970 - (i % 3) * 100);
    assert.equal(last, -1970);
  });
});

describe('quorum of locations', () => {
  it('DOWN only when down_when locations agree; offline is not DOWN', () => {
    const v = (state: 'up' | 'down' | 'degraded' | 'unknown', offline = false, reason = '') => ({ state, offline, reason });
    assert.equal(quorumState(new Map([['a', v('down', false, 'x')], ['b', v('up')], ['c', v('up')]]), 2).state, 'up');
    const d = quorumState(new Map([['a', v('down', false, 'timeout')], ['b', v('down', false, 'refused')], ['c', v('up')]]), 2);
    assert.equal(d.state, 'down');
    assert.equal(d.reason, '2 of 3 locations see it DOWN (down_when 2): DOWN from a (timeout), b (refused); UP from c');
    assert.equal(quorumState(new Map([['a', v('down', false, 'x')], ['b', v('up', true)], ['c', v('up', true)]]), 2).state, 'unknown');
    assert.equal(quorumState(new Map([['a', v('degraded')], ['b', v('down')]]), 2).state, 'degraded');
  });

  it('the manager takes results per location and moves the probe by quorum', () => {
    const rt = testRuntime();
    const r = parseConfig(`agents:\n  tokens: {a: ta, b: tb, c: tc}\nprobes:\n  - {name: w, type: http, target: "http://127.0.0.1:1/", failure_threshold: 1, locations: [a, b, c], down_when: "2 of 3"}\n`, 't.yml');
    if (!r.ok) assert.fail(r.errors.map(String).join('\n'));
    const m = new ProbeManager(rt);
    try {
      m.applyConfig(r.config, { dir: '.' });
      assert.equal(m.agentLocation('tb'), 'b');
      assert.equal(m.agentLocation('nope'), null);
      assert.equal(m.agentProbes('a').probes.length, 1);
      assert.equal(m.agentProbes('a').probes[0].timeout, '10000ms');
      const t = Date.now();
      const res = (ok: boolean, dt: number) => ({ probe: 'w', time: t + dt, success: ok, duration_seconds: 0.01, reason: ok ? '' : 'status 503 not in [2xx]' });
      for (const l of ['a', 'b', 'c']) m.ingest(l, [res(true, 0)], t);
      assert.equal(m.get('w').state, 'up');
      m.ingest('a', [res(false, 10)], t + 10);
      assert.equal(m.get('w').state, 'up');
      m.ingest('b', [res(false, 20)], t + 20);
      assert.equal(m.get('w').state, 'down');
      assert.match(m.get('w').reason, /^b: status 503/);
      assert.deepEqual(m.ingest('z', [res(true, 30)], t + 30).rejected, ['"w": not a probe of location "z"']);
    } finally {
      void m.stop();
      rt.cleanup();
    }
  });

  it('rejects locations without an agent and bad quorums', () => {
    const errs = (yaml: string) => {
      const r = parseConfig(yaml, 't.yml');
      return r.ok ? '' : r.errors.map(String).join('\n');
    };
    assert.match(errs(`probes:\n  - {name: w, type: http, target: "http://x/", locations: [a]}\n`), /location "a" has no agent: add it to agents.tokens/);
    assert.match(errs(`agents: {tokens: {a: t, b: u}}\nprobes:\n  - {name: w, type: http, target: "http://x/", locations: [a, b], down_when: "2 of 3"}\n`), /lists 2 locations, not 3/);
    assert.match(errs(`agents: {tokens: {a: t}}\nprobes:\n  - {name: w, type: http, target: "http://x/", locations: [a], down_when: 2}\n`), /between 1 and the 1 locations/);
    assert.match(errs(`probes:\n  - {name: w, type: http, target: "http://x/", down_when: 1}\n`), /down_when needs locations/);
  });
});
