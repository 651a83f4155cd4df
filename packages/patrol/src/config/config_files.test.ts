// config_files: probes and receivers from other files, merged into patrol.yml's, with errors at
// their place in the file they came from and a name used twice naming both files.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempTree } from '../testing/tmptree.js';
import { loadConfigFile } from './load.js';
import { showConfig } from './show.js';

const ROUTE = 'alerting:\n  route: {receiver: main}\n  receivers:\n    - name: main\n';

describe('config_files', () => {
  const tree = tempTree('patrol-cf-');
  const write = tree.write;

  it('appends probes and receivers of every matching file and records where each came from', async () => {
    const main = write('ok/patrol.yml', `config_files: ["patrol.d/*.yml"]\nprobes:\n  - {name: a, type: http, target: "http://127.0.0.1:1/"}\n${ROUTE}`);
    write('ok/patrol.d/probes.yml', 'probes:\n  - {name: b, type: tcp, target: "127.0.0.1:1", interval: 10s}\n');
    write('ok/patrol.d/receivers.yml', 'alerting:\n  receivers:\n    - name: hooks\n      webhook_configs: [{url: "http://127.0.0.1:1/x"}]\n');
    const r = await loadConfigFile(main);
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.deepEqual(
      r.config.probes.map((p) => [p.name, p.interval]),
      [
        ['a', 30_000],
        ['b', 10_000],
      ],
    );
    assert.deepEqual(
      r.config.alerting.receivers.map((x) => x.name),
      ['main', 'hooks'],
    );
    assert.equal(r.origins.get('probes/a'), main);
    assert.equal(r.origins.get('probes/b'), join(tree.dir(), 'ok/patrol.d/probes.yml'));
    assert.equal(r.origins.get('alerting.receivers/hooks'), join(tree.dir(), 'ok/patrol.d/receivers.yml'));
    // --show inlines them and leaves config_files out, so its output does not define them twice.
    const shown = showConfig(r.config);
    assert.match(shown, /config_files: \[\]/);
    assert.match(shown, /name: b/);
  });

  it('reports an error inside an included file at its line, and a name used twice naming both files', async () => {
    const main = write('bad/patrol.yml', `config_files: ["patrol.d/*.yml"]\nprobes:\n  - {name: a, type: http, target: "http://127.0.0.1:1/"}\n${ROUTE}`);
    write('bad/patrol.d/p.yml', 'probes:\n  - name: a\n    type: tcp\n    target: "127.0.0.1:1"\n  - name: c\n    type: http\n    target: "http://127.0.0.1:1/"\n    timeout: 5 minutes\n');
    const r = await loadConfigFile(main);
    assert.equal(r.ok, false);
    const errors = r.ok ? [] : r.errors.map(String);
    const inc = join(tree.dir(), 'bad/patrol.d/p.yml');
    assert.ok(
      errors.some((e) => e.startsWith(`${inc}:2:`) && e.includes('probes[0].name') && e.includes(`first at ${main}:3:`)),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((e) => e.startsWith(`${inc}:8:`) && e.includes('probes[1].timeout')),
      errors.join('\n'),
    );
  });

  it('refuses other sections in an included file', async () => {
    const main = write('other/patrol.yml', `config_files: ["inc.yml"]\n${ROUTE}`);
    write('other/inc.yml', 'storage: {retention: 1d}\nalerting:\n  route: {receiver: x}\n');
    const r = await loadConfigFile(main);
    assert.equal(r.ok, false);
    const errors = r.ok ? [] : r.errors.map(String);
    assert.ok(errors.some((e) => e.includes('inc.yml:1:1: storage: a file named by config_files may hold only probes, alerting.receivers')), errors.join('\n'));
    // Only the root route's children may come from another file, not the root route's own keys.
    assert.ok(errors.some((e) => e.includes('inc.yml:3:11: alerting.route.receiver: a file named by config_files may hold only')), errors.join('\n'));
  });

  it('validates a file given only in overrides, as the config API does before writing it', async () => {
    const main = write('ov/patrol.yml', `config_files: ["patrol.d/*.yml"]\n${ROUTE}`);
    const f = join(tree.dir(), 'ov/patrol.d/probes.yml');
    const r = await loadConfigFile(main, new Map([[f, 'probes:\n  - {name: z, type: tcp, target: "127.0.0.1:1"}\n']]));
    assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
    assert.deepEqual(
      r.config.probes.map((p) => p.name),
      ['z'],
    );
  });

  it('merges server.auth.users of an included file into patrol.yml\'s server.auth, and refuses a user defined twice or without server.auth', async () => {
    const hash = '$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g=';
    const main = write('users/patrol.yml', `config_files: ["patrol.d/*.yml"]\nserver:\n  auth:\n    users:\n      root: {password_hash: '${hash}', role: admin}\n${ROUTE}`);
    const users = join(tree.dir(), 'users/patrol.d/users.yml');
    const ok = await loadConfigFile(main, new Map([[users, `server:\n  auth:\n    users:\n      ann: {password_hash: '${hash}', role: viewer}\n`]]));
    assert.ok(ok.ok, ok.ok ? '' : ok.errors.join('\n'));
    assert.deepEqual(Object.keys(ok.config.server.auth!.users), ['root', 'ann']);
    assert.equal(ok.origins.get('server.auth.users/ann'), users);
    assert.equal(ok.origins.get('server.auth.users/root'), main);
    // An error in an included user is reported in its file.
    const bad = await loadConfigFile(main, new Map([[users, `server:\n  auth:\n    users:\n      ann: {password_hash: '${hash}', role: boss}\n      root: {password_hash: '${hash}', role: viewer}\n`]]));
    const errors = bad.ok ? [] : bad.errors.map(String);
    assert.ok(errors.some((e) => e.startsWith(`${users}:4:`) && e.includes('server.auth.users.ann.role')), errors.join('\n'));
    assert.ok(errors.some((e) => e.startsWith(`${users}:5:`) && e.includes(`"root" is already defined in ${main}`)), errors.join('\n'));
    // A file in patrol.d cannot switch authentication on.
    const noAuth = write('noauth/patrol.yml', `config_files: ["patrol.d/*.yml"]\n${ROUTE}`);
    const f = join(tree.dir(), 'noauth/patrol.d/users.yml');
    const off = await loadConfigFile(noAuth, new Map([[f, `server:\n  auth:\n    users:\n      ann: {password_hash: '${hash}', role: viewer}\n`]]));
    assert.equal(off.ok, false);
    assert.match(off.ok ? '' : off.errors.map(String).join('\n'), /server\.auth must be in .*patrol\.yml for a file named by config_files to add to server\.auth\.users/);
  });

  it('appends named child routes after patrol.yml\'s, and refuses a route name used twice', async () => {
    const main = write('routes/patrol.yml', `config_files: ["patrol.d/*.yml"]\nalerting:\n  route:\n    receiver: main\n    routes:\n      - {name: first, receiver: main, matchers: ['a="1"']}\n  receivers:\n    - name: main\n`);
    const f = join(tree.dir(), 'routes/patrol.d/routes.yml');
    const ok = await loadConfigFile(main, new Map([[f, `alerting:\n  route:\n    routes:\n      - {name: second, receiver: main, matchers: ['b="2"']}\n`]]));
    assert.ok(ok.ok, ok.ok ? '' : ok.errors.join('\n'));
    assert.deepEqual(
      ok.config.alerting.route!.routes.map((r) => r.name),
      ['first', 'second'],
    );
    assert.equal(ok.origins.get('alerting.route.routes/second'), f);
    const dup = await loadConfigFile(main, new Map([[f, `alerting:\n  route:\n    routes:\n      - {name: first, receiver: main}\n`]]));
    const errors = dup.ok ? [] : dup.errors.map(String);
    assert.ok(errors.some((e) => e.startsWith(`${f}:4:`) && e.includes('route name "first" is used twice') && e.includes(`first at ${main}:6:`)), errors.join('\n'));
  });
});
