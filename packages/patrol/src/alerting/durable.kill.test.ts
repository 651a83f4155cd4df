// The dispatcher's durable state after kill -9: a real `patrol start` process with an alerting
// section and a webhook sink notifies a group, is killed with SIGKILL (nothing flushed but what
// was committed) and started again on the same data directory. The senders resend their alerts
// (as Prometheus does every resend_delay); within repeat_interval the group must not be notified
// again (the notification log came back), a silence made before the kill still silences, and
// the alerts are back before any sender resends them.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { killed, startPatrol, until } from '../testing/patrolproc.js';
import { killScene, postJson, waitFor } from './testutil.js';

async function metric(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const alert = (alertname: string, instance: string) => ({
  labels: { alertname, instance },
  annotations: { summary: `${alertname} on ${instance}` },
  startsAt: new Date(Date.now() - 60_000).toISOString(),
  endsAt: new Date(Date.now() + 3600_000).toISOString(),
});

describe('dispatcher state after kill -9', () => {
  const { dir, sink, procs } = killScene('patrol-am-kill9-');

  it('no notification twice within repeat_interval, silences and alerts intact', async () => {
    await sink.start();
    writeFileSync(
      join(dir, 'patrol.yml'),
      `host: {enabled: false}
alerting:
  route:
    receiver: sink
    group_by: [alertname]
    group_wait: 1s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: sink
      webhook_configs: [{url: '${sink.url}/hook'}]
`,
    );
    let p = await startPatrol(dir);
    procs.push(p.proc);
    const silence = (await postJson(p.base, '/api/v2/silences', {
      matchers: [{ name: 'alertname', value: 'Silenced', isRegex: false, isEqual: true }],
      startsAt: new Date().toISOString(),
      endsAt: new Date(Date.now() + 3600_000).toISOString(),
      createdBy: 'test',
      comment: 'survives kill -9',
    })) as { silenceID: string };
    const before = [alert('Before', 'a'), alert('Before', 'b'), alert('Silenced', 'a')];
    await postJson(p.base, '/api/v2/alerts', before);
    await waitFor('the group notified', () => sink.on('/hook').length >= 1, 60_000);
    assert.equal(sink.on('/hook').length, 1);
    assert.equal(sink.on('/hook')[0].groupLabels.alertname, 'Before');
    assert.equal(sink.on('/hook')[0].alerts.length, 2);

    // As in Alertmanager, the log entry is written once the receiver answered: a kill between
    // the answer and the write (a few ms) would send again. Kill after it.
    await until('the notification logged', async () => ((await metric(p.base, 'patrol_nflog_entries')) >= 1 ? true : undefined));
    await killed(p.proc);
    p = await startPatrol(dir);
    procs.push(p.proc);

    // The alerts are back before anyone resends them, the silenced one still silenced.
    const restored = (await (await fetch(`${p.base}/api/v2/alerts`)).json()) as { labels: Record<string, string>; status: { silencedBy: string[] } }[];
    assert.deepEqual(restored.map((a) => `${a.labels.alertname}/${a.labels.instance}`).sort(), ['Before/a', 'Before/b', 'Silenced/a']);
    assert.deepEqual(restored.find((a) => a.labels.alertname === 'Silenced')?.status.silencedBy, [silence.silenceID]);
    const sils = (await (await fetch(`${p.base}/api/v2/silences`)).json()) as { id: string; status: { state: string }; comment: string }[];
    assert.deepEqual(
      sils.map((s) => [s.id, s.status.state, s.comment]),
      [[silence.silenceID, 'active', 'survives kill -9']],
    );

    // The senders resend; a new group arrives too. Wait until both groups have flushed at
    // least twice since the restart (each flush queries the log once per integration).
    await postJson(p.base, '/api/v2/alerts', [...before, alert('After', 'a')]);
    await waitFor('the new group notified', () => sink.on('/hook').some((m) => m.groupLabels.alertname === 'After'), 60_000);
    await until('four flushes after the restart', async () => ((await metric(p.base, 'alertmanager_nflog_queries_total')) >= 6 ? true : undefined));
    const byGroup = sink.on('/hook').map((m) => m.groupLabels.alertname);
    assert.deepEqual(byGroup, ['Before', 'After'], 'the group notified before the kill was not notified again; the silenced one never');
  });
});
