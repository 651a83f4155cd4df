// Restore after kill -9: a real `patrol start` process with alerting rules is killed with
// SIGKILL (no shutdown, nothing flushed but what was committed) and started again on the same
// data directory. As Prometheus does from ALERTS_FOR_STATE: a firing alert keeps its activeAt
// and fires again without a new pending phase; a pending alert (`for: 2m`) keeps the time it
// has been pending (activeAt moves by the downtime only). The restore timings come from the
// config (`rules.alert.*`) so this runs in seconds.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killed, startPatrol, until } from '../testing/patrolproc.js';

type Result = { metric: Record<string, string>; value: [number, string] }[];
type ApiAlert = { labels: Record<string, string>; state: string; activeAt: string };

async function alerts(base: string): Promise<Map<string, ApiAlert>> {
  const r = (await (await fetch(`${base}/api/v1/alerts`)).json()) as { data: { alerts: ApiAlert[] } };
  return new Map(r.data.alerts.map((a) => [a.labels.alertname, a]));
}

async function query(base: string, q: string): Promise<Result> {
  return ((await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: Result } }).data.result;
}

describe('restore after kill -9', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-kill9-'));
  const procs: ChildProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => killed(p)));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a firing alert keeps its activeAt and is not pending again; a pending one keeps how long it has been pending', async () => {
    writeFileSync(
      join(dir, 'patrol.yml'),
      `global:
  evaluation_interval: 1s
rule_files: [rules.yml]
rules:
  alert:
    for_outage_tolerance: 1h
    for_grace_period: 1s
    resend_delay: 1s
`,
    );
    writeFileSync(
      join(dir, 'rules.yml'),
      `groups:
  - name: burn
    rules:
      - alert: Firing
        expr: vector(1)
        for: 3s
      - alert: Pending
        expr: vector(1)
        for: 2m
`,
    );
    let p = await startPatrol(dir);
    procs.push(p.proc);
    // Firing, and Pending pending for at least 4 s (its ALERTS_FOR_STATE says since when).
    const before = await until('Firing firing and Pending pending for 4 s', async () => {
      const a = await alerts(p.base);
      const firing = a.get('Firing');
      const pending = a.get('Pending');
      if (firing?.state !== 'firing' || pending?.state !== 'pending') return undefined;
      const fs = await query(p.base, 'timestamp(ALERTS_FOR_STATE{alertname="Pending"})');
      const fv = await query(p.base, 'ALERTS_FOR_STATE{alertname="Pending"}');
      if (fs.length === 0 || fv.length === 0) return undefined;
      const pendingFor = Number(fs[0].value[1]) - Number(fv[0].value[1]);
      return pendingFor >= 4 ? { firing, pending, pendingFor } : undefined;
    });
    await killed(p.proc);
    const killedAt = Date.now();

    p = await startPatrol(dir);
    procs.push(p.proc);
    // After the restore (the second evaluation after the start) both are as before the kill.
    const afterRestart = await until('Firing firing again and Pending restored', async () => {
      const a = await alerts(p.base);
      const firing = a.get('Firing');
      const pending = a.get('Pending');
      if (firing?.state !== 'firing' || pending?.state !== 'pending') return undefined;
      const fs = await query(p.base, 'timestamp(ALERTS_FOR_STATE{alertname="Pending"})');
      if (fs.length === 0 || Number(fs[0].value[1]) * 1000 <= killedAt) return undefined;
      const fv = await query(p.base, 'ALERTS_FOR_STATE{alertname="Pending"}');
      return { firing, pending, pendingFor: Number(fs[0].value[1]) - Number(fv[0].value[1]) };
    });

    // The firing alert: the same activeAt (to the second, as ALERTS_FOR_STATE stores it).
    assert.equal(Math.floor(Date.parse(afterRestart.firing.activeAt) / 1000), Math.floor(Date.parse(before.firing.activeAt) / 1000));
    // …and it did not go through a new pending phase: no ALERTS{alertstate="pending"} sample
    // of it since the restart.
    const pendingAgain = await query(p.base, `ALERTS{alertname="Firing",alertstate="pending"}[10m]`);
    const since = (pendingAgain as unknown as { values: [number, string][] }[]).flatMap((s) => s.values).filter(([t]) => t * 1000 > killedAt);
    assert.deepEqual(since, [], 'Firing was pending again after the restart');
    const firingSeries = (await query(p.base, `ALERTS{alertname="Firing",alertstate="firing"}[10m]`)) as unknown as { values: [number, string][] }[];
    assert.ok(firingSeries.flatMap((s) => s.values).some(([t]) => t * 1000 > killedAt), 'Firing is written as firing after the restart');

    // The pending alert: still pending about as long as before the kill (whole seconds), not
    // started over (that would be ~1-2 s); the downtime is not counted as pending.
    assert.ok(afterRestart.pendingFor >= before.pendingFor - 1, `pending ${afterRestart.pendingFor}s after the restart, ${before.pendingFor}s before`);
    assert.ok(Date.parse(afterRestart.pending.activeAt) > Date.parse(before.pending.activeAt), 'activeAt moved by the downtime');
  });
});
