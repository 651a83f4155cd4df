// Reload is all or nothing: a component that rejects the new configuration leaves every
// component, /api/v1/status/config and the reload metric on the running one.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { Component, PreparedConfig, Runtime } from './component.js';
import type { Config } from './config/schema.js';
import { createLogger } from './logger.js';
import { Patrol } from './server.js';

const CONFIG = (version: string, fail = '') => `global:
  scrape_interval: 15s
  external_labels: {version: ${version}${fail ? `, fail: ${fail}` : ''}}
`;

const versionOf = (c: Config): string => c.global.external_labels.version;

/** Takes configuration the old way (applyConfig only) and records what it runs. */
class Recorder implements Component {
  readonly name = 'recorder';
  running = '';
  history: string[] = [];
  applyConfig(c: Config): void {
    this.running = versionOf(c);
    this.history.push(this.running);
  }
  stop(): void {}
}

/** Two-phase: fails in prepare when the config says fail: prepare, in commit when fail: commit. */
class Picky implements Component {
  readonly name = 'picky';
  running = '';
  discarded = 0;
  engineSeen = false;
  constructor(rt: Runtime) {
    this.engineSeen = rt.engine !== undefined;
  }
  prepareConfig(c: Config): PreparedConfig {
    if (c.global.external_labels.fail === 'prepare') throw new Error('this configuration is not acceptable');
    return {
      commit: () => {
        this.running = versionOf(c);
      },
      discard: () => {
        this.discarded++;
      },
    };
  }
  applyConfig(c: Config): void {
    if (c.global.external_labels.fail === 'commit') throw new Error('cannot switch');
    this.running = versionOf(c);
  }
  stop(): void {}
}

/** Old-style component after the recorder that fails while applying. */
class FailsOnApply implements Component {
  readonly name = 'fails-on-apply';
  running = '';
  applyConfig(c: Config): void {
    if (c.global.external_labels.fail === 'apply') throw new Error('broken on apply');
    this.running = versionOf(c);
  }
  stop(): void {}
}

describe('reload is all or nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-reload-'));
  const configFile = join(dir, 'patrol.yml');
  let patrol: Patrol;
  let base: string;
  let recorder: Recorder;
  let picky: Picky;
  let failing: FailsOnApply;

  before(async () => {
    writeFileSync(configFile, CONFIG('a'));
    patrol = new Patrol({
      configFile,
      dataDir: join(dir, 'data'),
      listen: '127.0.0.1:0',
      logger: createLogger('error', new PassThrough()),
      extraComponents: (rt) => {
        recorder = new Recorder();
        picky = new Picky(rt);
        failing = new FailsOnApply();
        return [recorder, picky, failing];
      },
    });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const reloadMetric = async () => /^patrol_config_last_reload_successful (\d)$/m.exec(await (await fetch(`${base}/metrics`)).text())?.[1];
  const shownVersion = async () => {
    const body = (await (await fetch(`${base}/api/v1/status/config`)).json()) as { data: { yaml: string } };
    return /version: (\w+)/.exec(body.data.yaml)?.[1];
  };

  it('starts every component on the first configuration, with the engine on the runtime', async () => {
    assert.deepEqual([recorder.running, picky.running, failing.running], ['a', 'a', 'a']);
    assert.equal(picky.engineSeen, true);
    assert.equal(await reloadMetric(), '1');
  });

  const runtimeInfo = async () => ((await (await fetch(`${base}/api/v1/status/runtimeinfo`)).json()) as { data: { reloadConfigSuccess: boolean; lastConfigTime: string; storageRetention: string } }).data;
  let firstConfigTime = '';

  it('runtimeinfo reports the real reload state and retention; status/tsdb answers from the index', async () => {
    const info = await runtimeInfo();
    assert.equal(info.reloadConfigSuccess, true);
    assert.equal(info.storageRetention, '30d');
    firstConfigTime = info.lastConfigTime;
    assert.ok(Date.parse(firstConfigTime) > 0, firstConfigTime);
    const r = await fetch(`${base}/api/v1/status/tsdb?limit=2`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { data: { headStats: { numSeries: number }; seriesCountByMetricName: unknown[] } };
    assert.equal(typeof body.data.headStats.numSeries, 'number');
    assert.ok(body.data.seriesCountByMetricName.length <= 2);
    const bad = await fetch(`${base}/api/v1/status/tsdb?limit=0`);
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /limit must be a positive number/);
  });

  it('a component failing in prepare leaves every component on the old configuration', async () => {
    writeFileSync(configFile, CONFIG('b', 'prepare'));
    const r = await patrol.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors.join('\n'), /picky: this configuration is not acceptable/);
    // The recorder comes before picky in the list: it was never switched to b.
    assert.deepEqual([recorder.running, picky.running, failing.running], ['a', 'a', 'a']);
    assert.deepEqual(recorder.history, ['a']);
    assert.equal(await shownVersion(), 'a');
    assert.equal(await reloadMetric(), '0');
    const info = await runtimeInfo();
    assert.equal(info.reloadConfigSuccess, false);
    assert.equal(info.lastConfigTime, firstConfigTime);
  });

  it('a component failing while applying puts the ones already switched back', async () => {
    writeFileSync(configFile, CONFIG('c', 'apply'));
    const r = await patrol.reload();
    assert.equal(r.ok, false);
    assert.match(r.errors.join('\n'), /fails-on-apply: broken on apply/);
    assert.deepEqual([recorder.running, picky.running, failing.running], ['a', 'a', 'a']);
    assert.deepEqual(recorder.history, ['a', 'c', 'a']);
    assert.equal(await shownVersion(), 'a');
    assert.equal(await reloadMetric(), '0');
  });

  it('a good configuration then reaches every component', async () => {
    writeFileSync(configFile, CONFIG('d'));
    const r = await patrol.reload();
    assert.deepEqual(r, { ok: true, errors: [] });
    assert.deepEqual([recorder.running, picky.running, failing.running], ['d', 'd', 'd']);
    assert.equal(await shownVersion(), 'd');
    assert.equal(await reloadMetric(), '1');
    const info = await runtimeInfo();
    assert.equal(info.reloadConfigSuccess, true);
    assert.ok(Date.parse(info.lastConfigTime) >= Date.parse(firstConfigTime));
  });
});
