#!/usr/bin/env node
// `npm start`: Patrol's first-run tour. Starts, in one terminal:
//   - the demo service (examples/demo/demo.ts, instrumented with @patrol/sdk), restarted 20 s
//     after it exits (so the crash fault shows an alert, then a recovery);
//   - a webhook sink that prints every notification Patrol sends;
//   - Patrol with examples/demo/patrol.yml: probes and scrapes the demo and itself, the rule packs,
//     the demo's fast rules and a baseline, alerts routed to the sink (and to a DingTalk or WeCom
//     robot when DINGTALK_URL or WECOM_URL is set; DINGTALK_SECRET signs DingTalk's).
// Ctrl-C stops everything. Needs nothing but Node (and `npm ci`, which builds Patrol).
//
// Environment: PATROL_LISTEN (127.0.0.1:9310), DEMO_LISTEN (127.0.0.1:8090), SINK_LISTEN
// (127.0.0.1:8091), PATROL_TOUR_DATA (data directory, ./data/tour), DEMO_RESTART_SECONDS (20),
// DEMO_TRAFFIC (the demo's own requests per second, 20).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const env = process.env;
const patrolListen = env.PATROL_LISTEN || '127.0.0.1:9310';
const demoListen = env.DEMO_LISTEN || '127.0.0.1:8090';
const sinkListen = env.SINK_LISTEN || '127.0.0.1:8091';
const dataDir = resolve(env.PATROL_TOUR_DATA || 'data/tour');
const restartSeconds = Number(env.DEMO_RESTART_SECONDS ?? 20);

const say = (line) => process.stdout.write(`[tour] ${line}\n`);
let stopping = false;
const children = new Set();

// --- the notification sink -------------------------------------------------------------------
const [sinkHost, sinkPort] = split(sinkListen);
const sink = http.createServer((req, res) => {
  let size = 0;
  const chunks = [];
  req.on('data', (c) => {
    size += c.length;
    if (size <= 1024 * 1024) chunks.push(c);
  });
  req.on('end', () => {
    res.end('ok\n');
    try {
      const msg = JSON.parse(Buffer.concat(chunks).toString());
      for (const a of msg.alerts ?? []) {
        const status = a.status === 'resolved' ? 'RESOLVED' : 'FIRING';
        const what = a.annotations?.summary ?? '';
        say(`notification: ${status} ${a.labels?.alertname ?? '?'} (${a.labels?.severity ?? 'no severity'}) ${what}`);
      }
    } catch {
      say(`notification (not JSON, ${size} bytes)`);
    }
  });
});
sink.on('error', (err) => fail(`the notification sink cannot listen on ${sinkListen}: ${err.message} (set SINK_LISTEN)`));
sink.listen(sinkPort, sinkHost);

// --- the configuration, with this run's addresses --------------------------------------------
let config = readFileSync(join(here, 'patrol.yml'), 'utf8')
  .replaceAll('127.0.0.1:9310', patrolListen)
  .replaceAll('127.0.0.1:8090', demoListen)
  .replaceAll('127.0.0.1:8091', sinkListen)
  .replace('rule_files: [demo.rules.yml]', `rule_files: [${JSON.stringify(join(here, 'demo.rules.yml'))}]`);
// Robots: the addresses stay ${VARIABLES} in the file; Patrol expands them and never prints them.
const robots = [];
if (env.DINGTALK_URL) robots.push(`      dingtalk_configs:\n        - url: \${DINGTALK_URL}\n          send_resolved: true${env.DINGTALK_SECRET ? '\n          secret: ${DINGTALK_SECRET}' : ''}`);
if (env.WECOM_URL) robots.push('      wecom_configs:\n        - url: ${WECOM_URL}\n          send_resolved: true');
if (robots.length) config = config.trimEnd() + '\n' + robots.join('\n') + '\n';
mkdirSync(dataDir, { recursive: true });
const configFile = join(dataDir, 'tour.yml');
writeFileSync(configFile, config);

// --- the demo, restarted after it exits --------------------------------------------------------
function startDemo() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'demo.ts')], {
    cwd: root,
    env: { ...env, DEMO_LISTEN: demoListen },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (stopping) return;
    say(`the demo exited (${signal ?? `code ${code}`}); restarting it in ${restartSeconds} s`);
    setTimeout(() => !stopping && startDemo(), restartSeconds * 1000);
  });
}

// --- Patrol -----------------------------------------------------------------------------------
function startPatrol() {
  const bin = join(root, 'packages/patrol/bin/patrol.js');
  // The variables and node flags of the bin's `#!/usr/bin/env -S NAME=value node --flag` line, so
  // Patrol runs here as the installed `patrol` command does.
  const words = (/^#!\S*env -S (.*)$/.exec(readFileSync(bin, 'utf8').split('\n')[0])?.[1] ?? 'node').trim().split(/\s+/);
  const node = words.indexOf('node');
  const vars = Object.fromEntries(words.slice(0, node).map((w) => w.split(/=(.*)/s).slice(0, 2)));
  const child = spawn(process.execPath, [...words.slice(node + 1), bin, 'start', '--config', configFile, '--data', dataDir, '--listen', patrolListen], {
    cwd: root,
    env: { ...env, ...vars },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.add(child);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (!stopping) fail(`Patrol exited (${signal ?? `code ${code}`})`);
  });
}

sink.once('listening', () => {
  startDemo();
  startPatrol();
  const demo = `http://${demoListen}`;
  say(`Patrol:  http://${patrolListen}/   (dashboard; alerts at /alerts)`);
  say(`demo:    ${demo}/api/orders   (metrics ${demo}/metrics, readiness ${demo}/ready)`);
  say(`sink:    notifications print here${robots.length ? ' and go to your robot' : ''}`);
  say('break the demo, then watch the dashboard and this terminal (an alert in about 30-60 s):');
  say(`  curl -X POST '${demo}/faults?error_rate=0.3'       5xx on 30 % of requests`);
  say(`  curl -X POST '${demo}/faults?latency_ms=800'       slow responses`);
  say(`  curl -X POST '${demo}/faults?dependency_down=1'    the database check fails, /ready answers 503`);
  say(`  curl -X POST '${demo}/faults?leak_mb=5'            memory leak; task_leak=20: a task leak`);
  say(`  curl -X POST '${demo}/faults?crash=1'              crash (restarted after ${restartSeconds} s)`);
  say(`  curl -X DELETE '${demo}/faults'                     back to normal (then a RESOLVED notification)`);
});

function split(addr) {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1', Number(addr.slice(i + 1))];
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  sink.close();
  const wait = setInterval(() => {
    if (children.size === 0) {
      clearInterval(wait);
      process.exit(code);
    }
  }, 100);
  setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
    process.exit(code);
  }, 10_000).unref();
}

function fail(msg) {
  say(msg);
  stop(1);
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
