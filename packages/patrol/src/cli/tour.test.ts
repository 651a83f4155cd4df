// The `npm start` tour end to end, headless: examples/demo/tour.mjs starts the demo service, the
// notification sink and Patrol on random loopback ports; the test breaks the demo (error rate),
// waits for the alert to fire in Patrol and the sink to print it, clears the fault and waits for
// the recovery notice, then takes the demo's database down and reads the probe's reason, which
// must name the dependency. Every wait is bounded; the figures are printed, not asserted.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseExpr } from '../promql/parser.js';

const tour = fileURLToPath(new URL('../../../../examples/demo/tour.mjs', import.meta.url));

// The Grafana dashboards of deploy/grafana: every panel query, with Grafana's variables replaced.
const grafanaDir = fileURLToPath(new URL('../../../../deploy/grafana/', import.meta.url));

interface PanelQuery {
  dashboard: string;
  panel: string;
  expr: string;
}

function dashboardQueries(): PanelQuery[] {
  const out: PanelQuery[] = [];
  for (const f of readdirSync(grafanaDir).filter((f) => f.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(grafanaDir, f), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
      templating: { list: { name: string; definition?: string }[] };
    };
    for (const p of d.panels) for (const t of p.targets) out.push({ dashboard: f, panel: p.title, expr: grafanaExpand(t.expr) });
    for (const v of d.templating.list) {
      const m = v.definition && /^label_values\((.+), \w+\)$/.exec(v.definition);
      if (v.definition) out.push({ dashboard: f, panel: `variable ${v.name}`, expr: m ? m[1] : `invalid ${v.definition}` });
    }
  }
  return out;
}

function grafanaExpand(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__range', '5m')
    .replace(/\$(job|instance|probe)\b/g, '.*');
}

// Panels with nothing to show in the tour, and why (every other query must return data).
const NO_DATA_IN_TOUR: Record<string, string> = {
  'go-runtime.json': 'the tour runs no Go service',
  'probes.json/Certificate expires in': 'the tour probes plain HTTP only',
};

describe('Grafana dashboards (deploy/grafana)', () => {
  it('every panel and variable query parses with Patrol\'s PromQL parser', () => {
    const qs = dashboardQueries();
    assert.ok(qs.length >= 30, `only ${qs.length} queries found in ${grafanaDir}`);
    for (const q of qs) assert.doesNotThrow(() => parseExpr(q.expr), `${q.dashboard} "${q.panel}": ${q.expr}`);
  });

  it('a query that does not parse is caught (the check can fail)', () => {
    assert.throws(() => parseExpr(grafanaExpand('rate(http_requests_total{job=~"$job"}[$__rate_interval]')));
  });
});

async function freePort(): Promise<number> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | undefined>, output: () => string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${timeoutMs / 1000} s; the tour printed:\n${output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Alert {
  labels: Record<string, string>;
  state: string;
}

describe('npm start tour (examples/demo/tour.mjs)', { timeout: 300_000 }, () => {
  let child: ChildProcess;
  let out = '';
  let dir: string;
  let patrol: string;
  let demo: string;
  const t0 = Date.now();
  const seconds = () => ((Date.now() - t0) / 1000).toFixed(1);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-tour-'));
    const [p, d, s] = [await freePort(), await freePort(), await freePort()];
    patrol = `http://127.0.0.1:${p}`;
    demo = `http://127.0.0.1:${d}`;
    const env: NodeJS.ProcessEnv = { ...process.env, PATROL_LISTEN: `127.0.0.1:${p}`, DEMO_LISTEN: `127.0.0.1:${d}`, SINK_LISTEN: `127.0.0.1:${s}`, PATROL_TOUR_DATA: dir };
    delete env.DINGTALK_URL;
    delete env.WECOM_URL;
    child = spawn(process.execPath, [tour], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  });

  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts, fires an alert for an injected error rate, notifies the sink, recovers, and names a failed dependency', async (t) => {
    const output = () => out;
    await until('Patrol ready', 60_000, async () => ((await fetch(`${patrol}/-/ready`)).ok ? true : undefined), output);
    await until('the demo listening', 60_000, async () => ((await fetch(`${demo}/ready`)).ok ? true : undefined), output);
    t.diagnostic(`Patrol and the demo answer after ${seconds()} s`);

    // The switches refuse what they do not know or cannot take.
    assert.equal((await fetch(`${demo}/faults?error_rat=0.5`, { method: 'POST' })).status, 400);
    assert.equal((await fetch(`${demo}/faults?error_rate=2`, { method: 'POST' })).status, 400);
    assert.equal((await fetch(`${demo}/faults?leak_mb=-1`, { method: 'POST' })).status, 400);
    const injected = await fetch(`${demo}/faults?error_rate=0.5`, { method: 'POST' });
    assert.equal(injected.status, 200);
    const tInject = Date.now();

    await until('DemoErrorRate firing in /api/v1/alerts', 120_000, async () => {
      const body = (await (await fetch(`${patrol}/api/v1/alerts`)).json()) as { data: { alerts: Alert[] } };
      return body.data.alerts.find((a) => a.labels.alertname === 'DemoErrorRate' && a.state === 'firing' && a.labels.job === 'demo');
    }, output);
    await until('the sink printing the firing notification', 60_000, async () => (/notification: FIRING DemoErrorRate \(critical\)/.test(out) ? true : undefined), output);
    t.diagnostic(`firing notification printed ${((Date.now() - tInject) / 1000).toFixed(1)} s after the fault, ${seconds()} s after start`);

    // The dashboards' queries against this Patrol, fed by the demo, the probes and the host.
    const empty: string[] = [];
    for (const q of dashboardQueries()) {
      if (NO_DATA_IN_TOUR[q.dashboard] || NO_DATA_IN_TOUR[`${q.dashboard}/${q.panel}`]) continue;
      const r = await fetch(`${patrol}/api/v1/query?query=${encodeURIComponent(q.expr)}`);
      const body = (await r.json()) as { status: string; error?: string; data?: { result: unknown[] } };
      assert.equal(body.status, 'success', `${q.dashboard} "${q.panel}": ${body.error}`);
      if (!body.data?.result.length) empty.push(`${q.dashboard} "${q.panel}": ${q.expr}`);
    }
    assert.deepEqual(empty, [], 'dashboard queries without data');

    assert.equal((await fetch(`${demo}/faults`, { method: 'DELETE' })).status, 200);
    const tClear = Date.now();
    await until('the sink printing the resolved notification', 150_000, async () => (/notification: RESOLVED DemoErrorRate/.test(out) ? true : undefined), output);
    t.diagnostic(`resolved notification printed ${((Date.now() - tClear) / 1000).toFixed(1)} s after clearing`);

    assert.equal((await fetch(`${demo}/faults?dependency_down=1`, { method: 'POST' })).status, 200);
    const reason = await until('the demo-ready probe failing with a reason', 60_000, async () => {
      const body = (await (await fetch(`${patrol}/api/patrol/v1/probes/demo-ready`)).json()) as { data: { last_result?: { success: boolean; reason?: string } } };
      const r = body.data.last_result;
      return r && !r.success ? r.reason : undefined;
    }, output);
    assert.match(reason ?? '', /checks\.database\.status/, `the reason should name the failed dependency: ${reason}`);

    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0, out.slice(-2000));
  });
});
