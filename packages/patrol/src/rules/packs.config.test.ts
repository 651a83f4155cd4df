// Switching rule packs on from the configuration: `rule_packs: [http, host]` makes the server run
// the packs' groups (seen in /api/v1/rules), `patrol check config` lists them, and an unknown
// name is an error that suggests the nearest pack. The packs are found beside the installed
// package, whatever the working folder.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { packFile } from './packs.js';

const CLI = fileURLToPath(new URL('../cli/main.ts', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface RulesResponse {
  status: string;
  data: { groups: { name: string; file: string; rules: { name: string; type: string; health: string }[] }[] };
}

describe('rule_packs in the configuration', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-packs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the server runs the groups of the packs it names', async () => {
    writeFileSync(join(dir, 'patrol.yml'), 'global:\n  evaluation_interval: 1s\nrule_packs: [http, host]\n');
    const p = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await p.start();
    try {
      const r = (await (await fetch(`http://${p.listen}/api/v1/rules`)).json()) as RulesResponse;
      assert.equal(r.status, 'success');
      const groups = r.data.groups.map((g) => `${g.file}#${g.name}`).sort();
      assert.deepEqual(groups, [`${packFile('host')}#patrol-host`, `${packFile('http')}#patrol-http`, `${packFile('http')}#patrol-http-normalise`]);
      const alerts = r.data.groups.flatMap((g) => g.rules.filter((x) => x.type === 'alerting').map((x) => x.name));
      assert.ok(alerts.includes('HTTPErrorRateCritical') && alerts.includes('HostDiskWillFillIn4h'), alerts.join(' '));
      assert.ok(!alerts.includes('GoGoroutineLeak'));
    } finally {
      await p.stop();
    }
  });

  it('patrol check config lists the packs, from any working folder, and suggests a name for a typo', () => {
    writeFileSync(join(dir, 'ok.yml'), 'rule_packs: [probes, patrol]\n');
    writeFileSync(join(dir, 'typo.yml'), 'rule_packs: [http, hots]\n');
    const run = (f: string) => spawnSync(process.execPath, ['--import', TSX, CLI, 'check', 'config', f], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    const ok = run('ok.yml');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^ {2}rule packs: probes, patrol \(2 groups, \d+ rules\)$/m);
    const bad = run('typo.yml');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /typo\.yml:1:20: rule_packs\[1\]: unknown rule pack "hots"; did you mean "host"\? \(packs: http, go, host, probes, patrol\)/);
  });
});
