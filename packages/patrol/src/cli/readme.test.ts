// The README's commands work as written from the repository root: the quick start's `npx patrol`
// lines run, and every command of the Commands table exists with the flags the table lists.
// Runs the real installed entry point (bin/patrol.js → dist/patrol.js), building dist first when it is
// missing or older than the sources, as `npm ci` does through `prepare`.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const pkg = join(root, 'packages/patrol');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function newest(dir: string, ext: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (name.endsWith(ext) && !name.endsWith('.test.ts')) t = Math.max(t, st.mtimeMs);
  }
  return t;
}

function distIsCurrent(): boolean {
  try {
    return statSync(join(pkg, 'dist/patrol.js')).mtimeMs >= newest(join(pkg, 'src'), '.ts');
  } catch {
    return false;
  }
}

/**
 * Runs a README command line from the repository root. `npx` gets --no-install so that a
 * missing local command fails here instead of fetching a package of that name from the registry.
 */
function sh(line: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const words = line.trim().split(/\s+/);
  const [cmd, ...args] = words;
  const argv = cmd === 'npx' ? ['--no-install', ...args] : args;
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The shell block under "## Quick start". */
function quickStart(): string[] {
  const section = readme.split('\n## Quick start\n')[1]?.split('\n## ')[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '');
}

/** `npx patrol start [--config FILE] …` rows of the Commands table. */
function commandRows(): { command: string[]; flags: string[] }[] {
  return [...readme.matchAll(/^\| `(npx patrol [^`]+)` \|/gm)].map((m) => {
    const words = m[1].split(/\s+/).slice(2);
    const command = words.filter((w, i) => /^[a-z]+$/.test(w) && words.slice(0, i).every((x) => /^[a-z]+$/.test(x)));
    const flags = [...m[1].matchAll(/--[a-z][a-z.-]*/g)].map((f) => f[0]);
    return { command, flags };
  });
}

describe('the README commands work as written from the repository root', () => {
  before(() => {
    if (distIsCurrent()) return;
    const r = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 600_000 });
    assert.equal(r.status, 0, `npm run build failed:\n${r.stdout}${r.stderr}`);
  });

  it('the quick start uses `npx patrol`, and its patrol lines run', async () => {
    const lines = quickStart();
    assert.ok(lines.length > 0, 'no quick start block found');
    assert.ok(!lines.some((l) => /^patrol\b/.test(l)), `a bare \`patrol\` is "command not found" after npm ci:\n${lines.join('\n')}`);
    const patrolLines = lines.filter((l) => l.startsWith('npx patrol '));
    assert.ok(patrolLines.length > 0, 'the quick start shows no npx patrol command');
    for (const line of patrolLines) {
      const r = await sh(line);
      assert.equal(r.code, 0, `${line}\n${r.stdout}${r.stderr}`);
    }
  });

  it('npx patrol --version prints the package version', async () => {
    const r = await sh('npx patrol --version');
    assert.equal(r.code, 0, r.stderr);
    const version = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(r.stdout.trim(), version);
  });

  it('every command of the table exists with the flags it lists', async () => {
    const rows = commandRows();
    assert.ok(rows.length >= 4, `expected the Commands table, found ${rows.length} rows`);
    for (const { command, flags } of rows) {
      const r = await sh(`npx patrol ${command.join(' ')} --help`);
      assert.equal(r.code, 0, `npx patrol ${command.join(' ')} --help\n${r.stderr}`);
      for (const f of flags) assert.ok(r.stdout.includes(f), `README lists ${f} for \`patrol ${command.join(' ')}\`, its --help does not:\n${r.stdout}`);
    }
  });

  it('npm start runs the tour, which runs the patrol command through its bin (nothing but Node)', () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const bin = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin;
    assert.match(scripts.start, /^node examples\/demo\/tour\.mjs$/);
    const tour = readFileSync(join(root, 'examples/demo/tour.mjs'), 'utf8');
    assert.ok(tour.includes(`packages/patrol/${bin.patrol}`), 'the tour does not start the patrol bin');
    assert.ok(bin.patrol, 'packages/patrol has no patrol bin');
    assert.ok(statSync(join(root, 'node_modules/.bin/patrol')).isFile(), 'node_modules/.bin/patrol is missing: npm ci did not link the workspace bin');
  });
});
