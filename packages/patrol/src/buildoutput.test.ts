// What `npm run build` compiles into dist/ (and what the package ships): no test, benchmark or
// test helper. tsconfig.json excludes them by name, but an exclude does not stop a production
// file that imports a helper from pulling it into the build, so the program itself is checked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const TEST_ONLY = [/\.test\.ts$/, /\.bench\.ts$/, /testutil\.ts$/, /testkit\.ts$/, /^src\/testing\//, /\/testdata\//, /^src\/storage\/contract\.ts$/];

describe('build output', () => {
  test('the compiled program holds no test, benchmark or test helper', { timeout: 180_000 }, () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', pkg, '--listFilesOnly'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, r.stderr || r.stdout);
    const ours = r.stdout
      .split('\n')
      .filter((f) => f.startsWith(join(pkg, 'src') + '/'))
      .map((f) => relative(pkg, f));
    assert.ok(ours.length > 100, `only ${ours.length} files of src/ in the program`);
    assert.ok(ours.includes('src/server.ts'));
    assert.deepEqual(ours.filter((f) => TEST_ONLY.some((re) => re.test(f))), []);
  });

  test('the package ships the built code, its command and the rule packs, not src/, bench/ or test/', { timeout: 120_000 }, () => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    assert.equal(r.status, 0, r.stderr);
    const [{ files }] = JSON.parse(r.stdout) as [{ files: { path: string }[] }];
    const paths = files.map((f) => f.path);
    assert.ok(paths.includes('bin/patrol.js'), 'bin/patrol.js');
    assert.ok(paths.some((p) => p.startsWith('packs/')), 'the rule packs');
    assert.deepEqual(paths.filter((p) => /^(src|bench|test)\//.test(p)), []);
  });
});
