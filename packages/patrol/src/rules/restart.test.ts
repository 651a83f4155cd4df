// Restart safety: a pending alert keeps the time it has already been pending across a restart,
// restored from ALERTS_FOR_STATE with Prometheus's grace-period logic (`for` 20m ≥ the 10m grace
// period: the downtime is added to activeAt instead of starting over).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

type Result = { metric: Record<string, string>; value: [number, string] }[];

async function until<T>(what: string, f: () => Promise<T | undefined>, tries = 300): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('restart safety', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-restart-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a pending alert resumes from ALERTS_FOR_STATE after a restart instead of starting over", async () => {
    writeFileSync(join(dir, 'patrol.yml'), 'global:\n  evaluation_interval: 1s\nrule_files: [rules/*.yml]\n');
    mkdirSync(join(dir, 'rules'));
    writeFileSync(join(dir, 'rules', 'r.yml'), 'groups:\n  - name: slow\n    rules:\n      - alert: SlowBurn\n        expr: vector(1)\n        for: 20m\n');
    const start = async () => {
      const p = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('silent') });
      await p.start();
      return p;
    };
    const forState = async (base: string): Promise<{ activeAt: number; t: number } | undefined> => {
      const q = async (e: string) => ((await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(e)}`)).json()) as { data: { result: Result } }).data.result;
      const [v, t] = await Promise.all([q('ALERTS_FOR_STATE{alertname="SlowBurn"}'), q('timestamp(ALERTS_FOR_STATE{alertname="SlowBurn"})')]);
      if (v.length === 0 || t.length === 0) return undefined;
      return { activeAt: Number(v[0].value[1]), t: Number(t[0].value[1]) };
    };

    let p = await start();
    let base = `http://${p.listen}`;
    // Pending for at least 4 s before the restart.
    const before = await until('4 s of pending', async () => {
      const s = await forState(base);
      return s && s.t - s.activeAt >= 4 ? s : undefined;
    });
    await p.stop();
    const stoppedAt = Date.now() / 1000;

    p = await start();
    base = `http://${p.listen}`;
    try {
      const afterRestart = await until('ALERTS_FOR_STATE after the restart', async () => {
        const s = await forState(base);
        return s && s.t > stoppedAt ? s : undefined;
      });
      const pendingBefore = before.t - before.activeAt;
      // Restored: activeAt moved forward by the downtime only, so the alert has still been
      // pending about as long as before (whole seconds); started over, it would be ~1 s.
      assert.ok(afterRestart.t - afterRestart.activeAt >= pendingBefore - 1, `pending ${afterRestart.t - afterRestart.activeAt}s after the restart, ${pendingBefore}s before`);
      assert.ok(afterRestart.activeAt > before.activeAt, 'the downtime is not counted as pending');
      const alerts = (await (await fetch(`${base}/api/v1/alerts`)).json()) as { data: { alerts: { state: string; activeAt: string }[] } };
      assert.equal(alerts.data.alerts[0].state, 'pending');
      assert.equal(Math.floor(Date.parse(alerts.data.alerts[0].activeAt) / 1000), afterRestart.activeAt);
    } finally {
      await p.stop();
    }
  });
});
