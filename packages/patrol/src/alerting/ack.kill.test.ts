// An acknowledgement after kill -9: a real `patrol start` process notifies a critical alert, the
// alert is acknowledged through the API, the process is killed with SIGKILL and started again on
// the same data directory. The alert must still be acknowledged (by whom, with the comment), and
// neither repeat to its receiver nor escalate, for longer than repeat_interval and ack_within.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { killed, startPatrol, until } from '../testing/patrolproc.js';
import { killScene, postJson, waitFor } from './testutil.js';

interface ApiAlert {
  fingerprint: string;
  labels: Record<string, string>;
  acknowledged: { by: string; comment: string } | null;
}

async function patrolAlert(base: string, alertname: string): Promise<ApiAlert | undefined> {
  const r = (await (await fetch(`${base}/api/patrol/v1/alerts?filter=${encodeURIComponent(`alertname="${alertname}"`)}`)).json()) as { data: ApiAlert[] };
  return r.data[0];
}

describe('acknowledgement after kill -9', () => {
  const { dir, sink, procs } = killScene('patrol-ack-kill9-');

  it('the alert is still acknowledged and neither repeats nor escalates', async () => {
    await sink.start();
    writeFileSync(
      join(dir, 'patrol.yml'),
      `host: {enabled: false}
alerting:
  route:
    receiver: main
    group_by: [alertname]
    group_wait: 1s
    group_interval: 1s
    repeat_interval: 2s
  receivers:
    - name: main
      webhook_configs: [{url: '${sink.url}/main'}]
    - name: lead
      webhook_configs: [{url: '${sink.url}/lead'}]
  patrol:
    escalations:
      - matchers: ['severity="critical"']
        ack_within: 4s
        receivers: [lead]
        repeat_interval: 2s
`,
    );
    const down = {
      labels: { alertname: 'Down', severity: 'critical', instance: 'db1' },
      annotations: { summary: 'db1 is down' },
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: new Date(Date.now() + 3600_000).toISOString(),
    };
    let p = await startPatrol(dir);
    procs.push(p.proc);
    await postJson(p.base, '/api/v2/alerts', [down]);
    await waitFor('the first notification', () => sink.on('/main').length >= 1, 60_000);
    const fp = (await until('the alert in the API', () => patrolAlert(p.base, 'Down'))).fingerprint;
    await postJson(p.base, `/api/patrol/v1/alerts/${fp}/ack`, { by: 'ann', comment: 'on it' });
    assert.equal((await patrolAlert(p.base, 'Down'))?.acknowledged?.by, 'ann');

    await killed(p.proc);
    const main = sink.on('/main').length;
    const lead = sink.on('/lead').length;
    p = await startPatrol(dir);
    procs.push(p.proc);
    await postJson(p.base, '/api/v2/alerts', [down]); // the sender resends, as Prometheus does
    const k = (await until('the alert back in the API', () => patrolAlert(p.base, 'Down'))).acknowledged;
    assert.deepEqual(k && { by: k.by, comment: k.comment }, { by: 'ann', comment: 'on it' });
    // Longer than repeat_interval (2 s) twice and than ack_within (4 s): an acknowledgement lost
    // in the kill would show as a repeat to main and an escalation to lead.
    await new Promise((r) => setTimeout(r, 7000));
    assert.equal(sink.on('/main').length, main, 'no repeat after the restart');
    assert.equal(sink.on('/lead').length, lead, 'no escalation after the restart');
    assert.equal((await patrolAlert(p.base, 'Down'))?.acknowledged?.by, 'ann');
  });
});
