// A Patrol with N probes against a local target server, for the dashboard's benchmark and
// screenshots: a few probes fail (500), a few are slow or flap, the rest answer 200.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { createLogger } from '../src/logger.js';
import { Patrol } from '../src/server.js';
import { findBinary } from '../src/testing/shared.js';

export interface UiEnv {
  base: string;
  patrol: Patrol;
  close(): Promise<void>;
}

const TEAMS = ['web', 'api', 'payments', 'search', 'data', 'infra', 'mobile', 'growth'];

export async function startUiEnv(opts: { probes: number; interval: string; down?: number; alerting?: boolean }): Promise<UiEnv> {
  let flip = 0;
  const target = http.createServer((req, res) => {
    const u = req.url ?? '/';
    if (u.startsWith('/down')) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return res.end('upstream error');
    }
    if (u.startsWith('/flap') && flip++ % 3 === 0) {
      res.writeHead(503, { 'content-type': 'text/plain' });
      return res.end('busy');
    }
    const delay = u.startsWith('/slow') ? 30 + Math.random() * 60 : Math.random() * 3;
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    }, delay);
  });
  target.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const port = (target.address() as { port: number }).port;
  const down = opts.down ?? Math.max(1, Math.round(opts.probes / 200));
  const lines: string[] = [];
  for (let i = 0; i < opts.probes; i++) {
    const team = TEAMS[i % TEAMS.length];
    const kind = i < down ? 'down' : i < down * 2 ? 'flap' : i % 7 === 0 ? 'slow' : 'ok';
    const name = `${team}-${kind === 'ok' ? 'svc' : kind}-${String(i).padStart(5, '0')}`;
    lines.push(`  - {name: ${name}, type: http, target: "http://127.0.0.1:${port}/${kind}/${i}", interval: ${opts.interval}, timeout: 2s, failure_threshold: ${kind === 'flap' ? 3 : 1}, labels: {team: ${team}, env: ${i % 3 === 0 ? 'staging' : 'prod'}}}`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'patrol-ui-env-'));
  const configFile = join(dir, 'patrol.yml');
  const alerting = opts.alerting
    ? `alerting:\n  route: {receiver: ops, group_by: [alertname, team]}\n  receivers: [{name: ops}]\nrule_files: [rules.yml]\n`
    : '';
  writeFileSync(join(dir, 'rules.yml'), `groups:\n  - name: probes\n    interval: 5s\n    rules:\n      - alert: ProbeDown\n        expr: probe_success == 0\n        labels: {severity: page}\n        annotations: {summary: "{{ $labels.probe }} is down"}\n      - record: probe:success:avg\n        expr: avg(probe_success)\n`);
  writeFileSync(configFile, `global: {scrape_interval: 15s, evaluation_interval: 5s}\nscrape_configs:\n  - {job_name: patrol, static_configs: [{targets: ["127.0.0.1:1"]}]}\n${alerting}probes:\n${lines.join('\n')}\n`);
  const patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
  await patrol.start();
  return {
    base: `http://${patrol.listen}`,
    patrol,
    async close() {
      await patrol.stop();
      target.closeAllConnections();
      await new Promise<void>((r) => target.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchChromium() {
  const exe = findBinary('chromium');
  if (!exe) throw new Error('chromium is not installed (npm run setup:reference installs it)');
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: exe, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
}

/** Waits until the overview counts `want` probes with a state, at most `ms`; returns the counts. */
export async function waitProbed(base: string, want: number, ms: number): Promise<Record<string, number>> {
  const end = Date.now() + ms;
  for (;;) {
    const r = (await (await fetch(`${base}/api/patrol/v1/overview`)).json()) as { data: { counts: Record<string, number> } };
    const c = r.data.counts;
    if (c.up + c.down >= want || Date.now() > end) return c;
    await new Promise((res) => setTimeout(res, 1000));
  }
}
