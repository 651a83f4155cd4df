import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startHttp } from '../probe/testdata/servers.js';
import { xmlEscape } from '../probe/junit.js';

const cli = fileURLToPath(new URL('./main.ts', import.meta.url));

function patrol(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Well-formedness check with Python's XML parser when python3 is present. */
function parsesAsXml(file: string): boolean | null {
  const r = spawnSync('python3', ['-c', 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])', file]);
  if (r.error) return null;
  return r.status === 0;
}

describe('patrol run --once', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let dir: string;
  let hits = 0;
  let firstFailsHits = 0;
  before(async () => {
    srv = await startHttp((req, res) => {
      if (req.url === '/first-fails') {
        firstFailsHits++;
        res.writeHead(firstFailsHits === 1 ? 503 : 200);
        res.end();
        return;
      }
      if (req.url === '/flaky') {
        hits++;
        res.writeHead(hits % 3 === 0 ? 200 : 503);
        res.end();
        return;
      }
      res.writeHead(req.url === '/down' ? 503 : 200, { 'content-type': 'application/json' });
      res.end(req.url === '/down' ? '{"status":"down"}' : '{"status":"up"}');
    });
    dir = mkdtempSync(join(tmpdir(), 'patrol-run-'));
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (name: string, text: string) => {
    const f = join(dir, name);
    writeFileSync(f, text);
    return f;
  };

  it('exit 0 when every probe passes, with a table', async () => {
    const cfg = write('ok.yml', `probes:\n  - {name: api, type: http, target: "${srv.url}/health", conditions: ["$.status == up"]}\n  - {name: port, type: tcp, target: "127.0.0.1:${srv.port}"}\n`);
    const r = await patrol(['run', '--once', '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^RESULT\s+PROBE\s+TYPE\s+TARGET\s+TIME\s+ATTEMPTS\s+REASON$/m);
    assert.match(r.stdout, /^PASS\s+api\s+http\s/m);
    assert.match(r.stdout, /^2 passed, 0 failed$/m);
  });

  it('exit 1 when a probe fails after its retries; JUnit and JSON', async () => {
    const cfg = write('fail.yml', `probes:\n  - {name: api, type: http, target: "${srv.url}/health"}\n  - {name: "down <&>", type: http, target: "${srv.url}/down", failure_threshold: 2, conditions: ["[STATUS] == 200", "$.status == up"]}\n`);
    const junit = join(dir, 'report.xml');
    const r = await patrol(['run', '--once', '--config', cfg, '--junit', junit, '--json', '--retry-delay', '10ms']);
    assert.equal(r.code, 1, r.stderr);
    const json = JSON.parse(r.stdout) as { passed: boolean; probes: { name: string; passed: boolean; reason: string; attempts: unknown[] }[] };
    assert.equal(json.passed, false);
    const down = json.probes.find((p) => p.name === 'down <&>')!;
    assert.equal(down.passed, false);
    assert.equal(down.reason, 'status 503 not in [200]');
    assert.equal(down.attempts.length, 2);
    const xml = readFileSync(junit, 'utf8');
    assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="patrol" tests="2" failures="1" errors="0" time="[\d.]+">/);
    assert.match(xml, /<testsuite name="patrol probes" tests="2" failures="1" errors="0" skipped="0" time="[\d.]+" timestamp="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d" hostname="[^"]*">/);
    assert.match(xml, /<testcase name="api" classname="patrol\.probe\.http" time="[\d.]+">\n\s+<system-out>/);
    assert.match(xml, /<testcase name="down &lt;&amp;&gt;" classname="patrol\.probe\.http" time="[\d.]+">\n\s+<failure message="status 503 not in \[200\]" type="ProbeFailure">/);
    assert.match(xml, /attempt 2: failed: status 503 not in \[200\]/);
    const wellFormed = parsesAsXml(junit);
    if (wellFormed !== null) assert.equal(wellFormed, true, 'JUnit report is not well-formed XML');
  });

  it('retries honour failure_threshold: a flaky probe passes on a later attempt', async () => {
    hits = 0;
    const cfg = write('flaky.yml', `probes:\n  - {name: flaky, type: http, target: "${srv.url}/flaky", failure_threshold: 3}\n`);
    const r = await patrol(['run', '--once', '--config', cfg, '--retry-delay', '10ms', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const json = JSON.parse(r.stdout) as { probes: { attempts: unknown[] }[] };
    assert.equal(json.probes[0].attempts.length, 3);
  });

  it('a probe that failed its first attempt and passed the retry shows the failed attempt in the table', async () => {
    firstFailsHits = 0;
    const cfg = write('retry.yml', `probes:\n  - {name: shaky, type: http, target: "${srv.url}/first-fails", conditions: ["[STATUS] == 200"]}\n  - {name: steady, type: http, target: "${srv.url}/health"}\n`);
    const r = await patrol(['run', '--once', '--config', cfg, '--retry-delay', '10ms']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PASS\s+shaky\s+http\s+\S+\s+\S+\s+2\s+passed on attempt 2; failed attempt 1: status 503 not in \[200\]$/m);
    assert.match(r.stdout, /^PASS\s+steady\s+http\s+\S+\s+\S+\s+1$/m);
    assert.equal(firstFailsHits, 2);
  });

  it('--strict fails the gate when any attempt failed, in the table, JSON and JUnit', async () => {
    firstFailsHits = 0;
    const cfg = write('strict.yml', `probes:\n  - {name: shaky, type: http, target: "${srv.url}/first-fails", conditions: ["[STATUS] == 200"]}\n  - {name: steady, type: http, target: "${srv.url}/health"}\n`);
    const r = await patrol(['run', '--once', '--strict', '--config', cfg, '--retry-delay', '10ms']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^FAIL\s+shaky\s+http\s+\S+\s+\S+\s+2\s+strict: failed attempt 1: status 503 not in \[200\] \(passed on attempt 2\)$/m);
    assert.match(r.stdout, /^PASS\s+steady\s/m);
    assert.match(r.stdout, /^1 passed, 1 failed$/m);
    firstFailsHits = 0;
    const junit = join(dir, 'strict.xml');
    const j = await patrol(['run', '--once', '--strict', '--json', '--junit', junit, '--config', cfg, '--retry-delay', '10ms']);
    assert.equal(j.code, 1);
    const json = JSON.parse(j.stdout) as { passed: boolean; probes: { name: string; passed: boolean; reason: string }[] };
    assert.equal(json.passed, false);
    assert.deepEqual(json.probes.map((p) => [p.name, p.passed]), [['shaky', false], ['steady', true]]);
    assert.match(readFileSync(junit, 'utf8'), /<testcase name="shaky"[^>]*>\n\s+<failure message="strict: failed attempt 1: status 503 not in \[200\] \(passed on attempt 2\)"/);
    // Without --strict the same run passes.
    firstFailsHits = 0;
    const lenient = await patrol(['run', '--once', '--config', cfg, '--retry-delay', '10ms']);
    assert.equal(lenient.code, 0, lenient.stdout);
  });

  it('--probe selects probes; an unknown name is exit 2', async () => {
    const cfg = write('sel.yml', `probes:\n  - {name: api, type: http, target: "${srv.url}/health"}\n  - {name: down, type: http, target: "${srv.url}/down", failure_threshold: 1}\n`);
    const ok = await patrol(['run', '--once', '--config', cfg, '--probe', 'api']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.doesNotMatch(ok.stdout, /down/);
    const bad = await patrol(['run', '--once', '--config', cfg, '--probe', 'nope']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--probe: "nope" not found/);
  });

  it('exit 2 on a bad config, naming the error', async () => {
    const cfg = write('bad.yml', 'probes:\n  - {name: a, type: http, target: "http://x/", conditions: ["[STATUS] === 200"]}\n');
    const r = await patrol(['run', '--once', '--config', cfg]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.yml:2:\d+: probes\[0\]\.conditions\[0\]: condition "\[STATUS\] === 200": unknown operator "==="/);
    const missing = await patrol(['run', '--once', '--config', join(dir, 'nope.yml')]);
    assert.equal(missing.code, 2);
    const noOnce = await patrol(['run', '--config', cfg]);
    assert.equal(noOnce.code, 2);
  });

  it('escapes XML and drops characters XML cannot carry', () => {
    assert.equal(xmlEscape('a<b>&"c\'\x00\x1b'), 'a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
