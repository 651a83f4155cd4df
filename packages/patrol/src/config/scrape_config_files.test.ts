import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempTree } from '../testing/tmptree.js';
import { globSync } from './glob.js';
import { loadConfigFile, parseConfig } from './load.js';

describe('scrape_config_files', () => {
  const tree = tempTree('patrol-scf-');
  const write = tree.write;

  it('appends the jobs of every matching file, with global defaults and paths relative to their own file', async () => {
    const main = write('a/prometheus.yml', 'global:\n  scrape_interval: 17s\nscrape_config_files: ["jobs/*.yml", "teams/*/scrape.yml", "nothing/*.yml"]\nscrape_configs:\n  - job_name: main\n');
    write('a/jobs/1.yml', 'scrape_configs:\n  - job_name: one\n    file_sd_configs: [{files: [targets/*.json]}]\n    tls_config: {ca_file: ca.pem}\n');
    write('a/jobs/2.yml', 'scrape_configs:\n  - job_name: two\n    scrape_interval: 5s\n  - job_name: three\n');
    write('a/jobs/ignored.txt', 'not yaml: [');
    write('a/teams/db/scrape.yml', 'scrape_configs:\n  - job_name: db\n    http_sd_configs: [{url: "http://sd/", bearer_token_file: token}]\n');
    write('a/teams/db/empty.yml', '');
    const r = await loadConfigFile(main);
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.deepEqual(
      r.config.scrape_configs.map((s) => [s.job_name, s.scrape_interval]),
      [
        ['main', 17_000],
        ['one', 17_000],
        ['two', 5_000],
        ['three', 17_000],
        ['db', 17_000],
      ],
    );
    const one = r.config.scrape_configs[1];
    assert.deepEqual(one.file_sd_configs[0].files, [join(tree.dir(), 'a/jobs/targets/*.json')]);
    assert.equal(one.tls_config?.ca_file, join(tree.dir(), 'a/jobs/ca.pem'));
    assert.equal(r.config.scrape_configs[4].http_sd_configs[0].bearer_token_file, join(tree.dir(), 'a/teams/db/token'));
    assert.equal(r.dir, join(tree.dir(), 'a'));
  });

  it('names the included file, line, column and key of a bad job', async () => {
    const main = write('b/prometheus.yml', 'scrape_config_files: [jobs.yml]\n');
    const jobs = write('b/jobs.yml', 'scrape_configs:\n  - job_name: x\n    scrape_interval: 15\n    static_config: []\n');
    const r = await loadConfigFile(main);
    assert.equal(r.ok, false);
    assert.deepEqual(r.ok ? [] : r.errors.map(String), [
      `${jobs}:3:22: scrape_configs[0].scrape_interval: 15 is not a duration (expected e.g. "30s", "5m", "1h30m", "1d")`,
      `${jobs}:4:5: scrape_configs[0].static_config: unknown key "static_config" (did you mean \`static_configs\`?)`,
    ]);
  });

  it('takes only scrape_configs in an included file, and reports its YAML errors', async () => {
    const main = write('c/prometheus.yml', 'scrape_config_files: ["*.jobs.yml"]\n');
    const a = write('c/a.jobs.yml', 'global:\n  scrape_interval: 1s\n');
    const b = write('c/b.jobs.yml', 'scrape_configs:\n  - job_name: [unclosed\n');
    const r = await loadConfigFile(main);
    const errs = r.ok ? [] : r.errors.map(String);
    assert.equal(errs[0], `${a}:1:1: global: unknown key "global"`);
    assert.ok(errs[1].startsWith(`${b}:`), errs.join('\n'));
  });

  it('keeps job names unique across the main file and every included file', async () => {
    const main = write('d/prometheus.yml', 'scrape_config_files: [x.yml, y.yml]\nscrape_configs:\n  - job_name: api\n');
    const x = write('d/x.yml', 'scrape_configs:\n  - job_name: web\n  - job_name: api\n');
    const y = write('d/y.yml', 'scrape_configs:\n  - job_name: web\n');
    const r = await loadConfigFile(main);
    assert.deepEqual(r.ok ? [] : r.errors.map(String), [
      `${x}:3:15: scrape_configs[1].job_name: found multiple scrape configs with job name "api" (first at ${main}:3:15)`,
      `${y}:2:15: scrape_configs[0].job_name: found multiple scrape configs with job name "web" (first at ${x}:2:15)`,
    ]);
  });

  it('rejects a malformed pattern where it is written', () => {
    const r = parseConfig('scrape_config_files:\n  - "jobs/[a-"\n', join(tree.dir(), 'e.yml'));
    assert.deepEqual(r.ok ? [] : r.errors.map(String), [`${join(tree.dir(), 'e.yml')}:2:5: scrape_config_files[0]: error retrieving scrape config files for "jobs/[a-": syntax error in pattern "${join(tree.dir(), 'jobs/[a-')}"`]);
  });

  it('warns about unsupported discovery in included files, naming the file', async () => {
    const main = write('f/prometheus.yml', 'scrape_config_files: [k.yml]\n');
    const k = write('f/k.yml', 'scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs: [{role: pod}]\n');
    const r = await loadConfigFile(main);
    assert.ok(r.ok);
    assert.deepEqual(r.warnings, [`${k}: scrape_configs[0].kubernetes_sd_configs: not supported yet; the job gets no targets from it`]);
  });
});

describe('glob patterns as Go filepath.Glob', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-glob-'));
    for (const f of ['a1.yml', 'a2.yml', 'b1.yml', '.hidden.yml', 'sub/x/c.yml', 'sub/y/c.yml', 'sub/y/d.yml']) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), '');
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const rel = (p: string) => globSync(join(dir, p)).map((f) => f.slice(dir.length + 1));

  it('matches *, ?, classes, ranges and negation in any segment', () => {
    assert.deepEqual(rel('*.yml'), ['.hidden.yml', 'a1.yml', 'a2.yml', 'b1.yml']);
    assert.deepEqual(rel('a?.yml'), ['a1.yml', 'a2.yml']);
    assert.deepEqual(rel('[ab]1.yml'), ['a1.yml', 'b1.yml']);
    assert.deepEqual(rel('[^a]*.yml'), ['.hidden.yml', 'b1.yml']);
    assert.deepEqual(rel('a[1-1].yml'), ['a1.yml']);
    assert.deepEqual(rel('sub/*/c.yml'), ['sub/x/c.yml', 'sub/y/c.yml']);
    assert.deepEqual(rel('sub/?/*.yml'), ['sub/x/c.yml', 'sub/y/c.yml', 'sub/y/d.yml']);
    assert.deepEqual(rel('a1.yml'), ['a1.yml']);
    assert.deepEqual(rel('zz*.yml'), []);
    assert.deepEqual(rel('missing/*.yml'), []);
  });
  it('matches on the linear-time engine: many stars against a long name answer at once', () => {
    // On JavaScript's RegExp this pattern took minutes against a 100-character name (backtracking
    // over every way to split the name between the stars).
    const long = `${'a'.repeat(100)}.yml`;
    writeFileSync(join(dir, long), '');
    try {
      assert.deepEqual(rel(`${'*a'.repeat(8)}*b.yml`), []);
      assert.deepEqual(rel(`${'*a'.repeat(8)}*.yml`), [long]);
    } finally {
      rmSync(join(dir, long));
    }
  });
  it('rejects malformed patterns', () => {
    for (const bad of ['[', '[a', 'a[]', '[z-a]', 'x\\']) assert.throws(() => globSync(join(dir, bad)), /syntax error in pattern/, bad);
  });
});
