import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createServer } from 'node:http';
import { createLogger, humanLine, logfmtLine } from './logger.js';
import { Patrol } from './server.js';

const repo = new URL('../../../', import.meta.url).pathname;
const cli = join(repo, 'packages/patrol/src/cli/main.ts');
const loggerModule = new URL('./logger.ts', import.meta.url).pathname;

/** The top-level keys of one JSON object text, in order, duplicates included. */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && line[j + 1] === ':') keys.push(JSON.parse(line.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

function duplicates(keys: string[]): string[] {
  return keys.filter((k, i) => keys.indexOf(k) !== i);
}

function sink() {
  const lines: string[] = [];
  const stream = new PassThrough();
  let rest = '';
  stream.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop()!;
    lines.push(...parts.filter(Boolean));
  });
  return { stream, lines };
}

describe('logger formats', () => {
  it('JSON carries level names, not numbers', async () => {
    const s = sink();
    createLogger('info', s.stream).child({ component: 'probes' }).warn({ probe: 'web' }, 'probe down');
    await new Promise((r) => setImmediate(r));
    const o = JSON.parse(s.lines[0]) as Record<string, unknown>;
    assert.equal(o.level, 'warn');
    assert.equal(o.component, 'probes');
    assert.equal(o.msg, 'probe down');
    assert.match(String(o.time), /^\d{4}-\d\d-\d\dT/);
  });

  it('human and logfmt lines: time, level word, component, message, key=value', () => {
    const json = JSON.stringify({ level: 'warn', time: '2026-01-02T03:04:05.006Z', service: 'patrol', component: 'probes', probe: 'web', reason: 'connection refused', code: 0, err: { type: 'Error', message: 'boom', stack: 'Error: boom\n at x' }, msg: 'probe down' });
    assert.equal(humanLine(json), '2026-01-02T03:04:05.006Z WARN  [probes] probe down probe=web reason="connection refused" code=0 err=boom\n');
    assert.equal(logfmtLine(json), 'time=2026-01-02T03:04:05.006Z level=warn component=probes msg="probe down" probe=web reason="connection refused" code=0 err=boom\n');
    const nested = JSON.stringify({ level: 'info', time: 't', msg: 'x', errors: ['a b'], empty: '' });
    assert.equal(humanLine(nested), 't INFO  x errors="[\\"a b\\"]" empty=""\n');
  });

  it('createLogger with a format writes that format to the given stream', async () => {
    const s = sink();
    createLogger('info', s.stream, 'human').child({ component: 'scrape' }).info({ target: 'http://a/metrics' }, 'target up');
    await new Promise((r) => setImmediate(r));
    assert.match(s.lines[0], /^\d{4}-\d\d-\d\dT\S+Z INFO {2}\[scrape\] target up target=http:\/\/a\/metrics$/);
  });
});

describe('logger never blocks and loses nothing at exit', () => {
  it('keeps the event loop running while stdout is not read, and writes every line before exit', async () => {
    // 4 MB of log lines into a pipe nobody reads yet (a pipe holds ~64 KB): a synchronous logger
    // would block in write(); this one must still run timers, then flush everything on exit.
    const script = `
      import { createLogger, flushLogs } from ${JSON.stringify(loggerModule)};
      const log = createLogger('info', undefined, 'json');
      const pad = 'x'.repeat(400);
      for (let i = 0; i < 10000; i++) log.info({ i, pad }, 'line');
      setTimeout(() => {
        process.stderr.write('loop-alive\\n');
        process.stdin.once('data', async () => {
          log.info('last line before exit');
          await flushLogs();
          process.exit(0);
        });
      }, 10);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.pause();
    let err = '';
    const alive = new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`event loop blocked by logging; stderr: ${err}`)), 60_000);
      child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('loop-alive')) {
          clearTimeout(t);
          res();
        }
      });
    });
    try {
      await alive;
    } catch (e) {
      child.kill('SIGKILL');
      throw e;
    }
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((res) => child.on('close', res));
    child.stdout.resume();
    child.stdin.end('go\n');
    const code = await closed;
    assert.equal(code, 0, err);
    const lines = out.split('\n').filter(Boolean);
    assert.equal(lines.length, 10001);
    assert.equal((JSON.parse(lines[9999]) as { i: number }).i, 9999);
    assert.match(lines[10000], /"last line before exit"/);
  });

  it('writes lines logged just before process.exit without an explicit flush (fatal path)', async () => {
    const script = `
      import { createLogger } from ${JSON.stringify(loggerModule)};
      const log = createLogger('info', undefined, 'json');
      for (let i = 0; i < 2000; i++) log.info({ i }, 'line');
      log.fatal('fatal: exiting');
      process.exit(3);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 3, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 2001);
    assert.match(lines[2000], /"level":"fatal".*"fatal: exiting"/);
  });
});

describe('logger buffer bound and a reader that goes away', () => {
  it('past the bound drops whole lines, counts them, and says how many once stdout reads again', async () => {
    // A 64 KiB bound and ~900 KB of lines into a pipe nobody reads: most are dropped. Every line
    // that arrives is whole and in order, received + dropped = written, and one line gives the count.
    const script = `
      import { LogWriter, logLinesDropped, openStdout } from ${JSON.stringify(loggerModule)};
      const w = new LogWriter(openStdout(), 64 * 1024, (n) => w.write(JSON.stringify({ note: 'dropped', dropped: n }) + '\\n'));
      const pad = 'x'.repeat(400);
      for (let i = 0; i < 2000; i++) w.write(JSON.stringify({ i, pad }) + '\\n');
      setTimeout(() => {
        process.stderr.write('loop-alive\\n');
        process.stdin.once('data', async () => {
          await w.flush();
          const m = await logLinesDropped.get();
          process.stderr.write('counted=' + m.values[0].value + '\\n');
          process.exit(0);
        });
      }, 10);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout.pause();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const deadline = Date.now() + 60_000;
    while (!err.includes('loop-alive') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    assert.match(err, /loop-alive/);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number | null>((res) => child.on('close', res));
    child.stdout.resume();
    child.stdin.end('go\n');
    assert.equal(await closed, 0, err);
    const objs = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { i?: number; dropped?: number });
    const data = objs.filter((o) => o.i !== undefined).map((o) => o.i!);
    const notes = objs.filter((o) => o.dropped !== undefined);
    assert.equal(notes.length, 1, `stderr: ${err}\nlast of stdout: ${out.slice(-300)}`);
    const dropped = notes[0].dropped!;
    assert.ok(dropped > 0, 'some lines were dropped');
    assert.equal(data.length + dropped, 2000);
    for (let k = 1; k < data.length; k++) assert.ok(data[k] > data[k - 1], 'in order, no line twice');
    assert.match(err, new RegExp(`counted=${dropped}\\b`));
  });

  it('exits at once, without losing the exit code, when the reader of stdout has gone', async () => {
    const script = `
      import { createLogger, flushLogs } from ${JSON.stringify(loggerModule)};
      const log = createLogger('info', undefined, 'json');
      process.stdin.once('data', async () => {
        for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
        await flushLogs();
        process.exit(4);
      });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.destroy();
    const closed = new Promise<number | null>((res) => child.on('close', res));
    child.stdin.end('go\n');
    const t = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await closed;
    clearTimeout(t);
    assert.equal(code, 4, err);
    assert.match(err, /cannot write logs to stdout \(EPIPE\)/);
  });
});

function runCli(args: string[], tty: boolean) {
  const argv = [process.execPath, '--import', 'tsx', cli, ...args];
  const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // script(1) runs its command through $SHELL -c; `exec` makes the server the shell's
  // replacement, so it is script's only child whatever the shell (dash forks and waits).
  const child = tty
    ? spawn('script', ['-qec', `exec ${quoted}`, '/dev/null'], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(argv[0], argv.slice(1), { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  /** The server's pid: under script(1) the one child of script, otherwise the child itself. */
  const serverPid = (): number | undefined => {
    if (!tty) return child.pid;
    const r = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' });
    const pids = r.stdout.split('\n').filter(Boolean).map(Number);
    return pids.length === 1 ? pids[0] : undefined;
  };
  const kill = () => {
    const pid = serverPid();
    if (pid !== undefined && pid !== child.pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    child.kill('SIGKILL');
  };
  return { child, done, serverPid, kill, out: () => out.replace(/\r/g, '') };
}

async function waitFor(p: ReturnType<typeof runCli>, re: RegExp): Promise<RegExpExecArray> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const m = re.exec(p.out());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 100));
  }
  p.kill();
  throw new Error(`never matched ${re}:\n${p.out()}`);
}

/** Starts `patrol start`, waits until ready, stops it with SIGTERM; returns everything it printed. */
async function startStop(extra: string[], tty: boolean): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-logfmt-'));
  const p = runCli(['start', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), ...extra], tty);
  try {
    // The signal handlers are installed before "ready" is logged.
    await waitFor(p, /Patrol is ready/);
    const pid = p.serverPid();
    assert.ok(pid !== undefined, `the server process under script(1) was not found:\n${p.out()}`);
    process.kill(pid, 'SIGTERM');
    await waitFor(p, /shutdown complete/);
    await p.done;
  } finally {
    if (p.child.exitCode === null) p.kill();
  }
  return p.out();
}

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

describe('patrol start: log format by terminal and flag', () => {
  it('writes JSON with level names when stdout is not a terminal, up to the last shutdown line', async () => {
    const out = await startStop([], false);
    const lines = out.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length >= 3, out);
    for (const l of lines) {
      const o = JSON.parse(l) as { level: unknown };
      assert.equal(typeof o.level, 'string', l);
    }
    assert.match(out, /"level":"info".*"msg":"Patrol is ready"/);
    // The last line, written just before exit(0), is not lost.
    assert.match(lines[lines.length - 1], /"msg":"shutdown complete"/);
  });

  it('writes logfmt when asked', async () => {
    const out = await startStop(['--log.format', 'logfmt'], false);
    assert.match(out, /^time=\S+ level=info msg="Patrol is ready" listen=127\.0\.0\.1:\d+ /m);
    assert.match(out, /^time=\S+ level=info msg="shutdown complete"$/m);
  });

  it('writes the human format on a terminal, and JSON there when asked', { skip: hasScript ? false : 'skipped: script(1) from util-linux not found, the pseudo-terminal log format test cannot run' }, async () => {
    const human = await startStop([], true);
    assert.match(human, /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO {2}Patrol is ready listen=127\.0\.0\.1:\d+ /m);
    assert.match(human, /^\S+Z INFO {2}shutdown complete$/m);
    assert.doesNotMatch(human, /^\{/m);
    const json = await startStop(['--log.format', 'json'], true);
    assert.match(json, /^\{"level":"info","time":"[^"]+","service":"patrol","listen":"127\.0\.0\.1:\d+".*"msg":"Patrol is ready"\}$/m);
  });
});

describe('no duplicated keys', () => {
  it('no JSON line of a running server repeats a key', async () => {
    const target = createServer((req, res) => {
      if (req.url === '/metrics') res.end('up_metric 1\n');
      else res.writeHead(503).end('down');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'patrol-dupkeys-'));
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(
      configFile,
      `scrape_configs:
  - job_name: app
    scrape_interval: 200ms
    scrape_timeout: 200ms
    static_configs: [{targets: ['127.0.0.1:${port}', '127.0.0.1:1']}]
probes:
  - name: web
    type: http
    target: http://127.0.0.1:${port}/health
    interval: 200ms
    timeout: 200ms
    failure_threshold: 1
`,
    );
    const s = sink();
    const patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('debug', s.stream) });
    try {
      await patrol.start();
      // Wait (generously: CI is loaded) until every component has written something.
      const seen = () => {
        const c = new Set(s.lines.map((l) => (JSON.parse(l) as { component?: string }).component));
        return s.lines.some((l) => l.includes('"probes"') && l.includes('"web"')) && ['probes', 'scrape', 'tsdb'].every((x) => c.has(x));
      };
      const deadline = Date.now() + 60_000;
      while (!seen() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await patrol.stop();
      target.close();
    }
    const components = new Set<string>();
    for (const l of s.lines) {
      const keys = topLevelKeys(l);
      assert.deepEqual(duplicates(keys), [], l);
      const o = JSON.parse(l) as { component?: string };
      if (o.component) components.add(o.component);
    }
    for (const c of ['probes', 'scrape', 'tsdb']) assert.ok(components.has(c), `a line from ${c}: ${[...components].join(',')}`);
  });
});
