// PagerDuty Events API v2 against a faithful enqueue endpoint: it validates the event as
// PagerDuty documents (routing_key of 32 characters, event_action, payload fields on trigger,
// severity among critical/error/warning/info) and answers 202, 400 "invalid event" or 429.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { receiver } from '../../config/alertmanager.js';
import { alert, integrationCtx, notifyCtx, sampleAlerts } from '../testdata/alerts.js';
import { httpSink, type Seen } from '../testdata/httpsink.js';
import { PagerdutyIntegration } from './pagerduty.js';

const KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

interface Event {
  routing_key?: string;
  event_action?: string;
  dedup_key?: string;
  payload?: { summary?: string; source?: string; severity?: string; custom_details?: Record<string, string> };
}

function enqueue(s: Seen) {
  if (s.url !== '/v2/enqueue') return { status: 404, body: 'Not Found' };
  const e = JSON.parse(s.body) as Event;
  const errors: string[] = [];
  if (typeof e.routing_key !== 'string' || e.routing_key.length !== 32) errors.push("'routing_key' must be 32 characters");
  if (!['trigger', 'acknowledge', 'resolve'].includes(e.event_action ?? '')) errors.push("'event_action' is invalid");
  if (e.event_action === 'trigger') {
    if (!e.payload?.summary) errors.push("'payload.summary' is missing or blank");
    if (!e.payload?.source) errors.push("'payload.source' is missing or blank");
    if (!['critical', 'error', 'warning', 'info'].includes(e.payload?.severity ?? '')) errors.push("'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')");
    if ((e.payload?.summary?.length ?? 0) > 1024) errors.push("'payload.summary' is too long");
  } else if (!e.dedup_key) errors.push("'dedup_key' is missing");
  if (errors.length) return { status: 400, body: { status: 'invalid event', message: 'Event object is invalid', errors } };
  if (e.routing_key === 'R4TELIMITED456789abcdefABCDEF012') return { status: 429, body: 'Rate Limit Exceeded' };
  return { status: 202, body: { status: 'success', message: 'Event processed', dedup_key: e.dedup_key } };
}

const mk = (url: string, extra: Record<string, unknown> = {}) => new PagerdutyIntegration(receiver.parse({ name: 'r', pagerduty_configs: [{ url: `${url}/v2/enqueue`, routing_key: KEY, ...extra }] }).pagerduty_configs![0], integrationCtx());

describe('pagerduty', () => {
  it('triggers then resolves with dedup_key = sha256(group key), as Alertmanager', async () => {
    const sink = await httpSink(enqueue);
    try {
      const integ = mk(sink.url, { severity: '{{ .CommonLabels.severity }}' });
      const ctx = notifyCtx();
      assert.deepEqual(await integ.notify(ctx, sampleAlerts), { ok: true });
      const t = JSON.parse(sink.seen[0].body) as Event;
      assert.equal(t.event_action, 'trigger');
      assert.equal(t.dedup_key, createHash('sha256').update(ctx.groupKey).digest('hex'));
      assert.equal(t.payload!.summary, '[FIRING:2] CRITICAL HighLatency');
      assert.equal(t.payload!.severity, 'critical');
      assert.equal(t.payload!.custom_details!.num_firing, '2');
      assert.match(t.payload!.custom_details!.firing, /api-1:9090/);
      const resolved = sampleAlerts.map((a) => alert(a.labels, a.annotations, true));
      assert.deepEqual(await integ.notify(ctx, resolved), { ok: true });
      const r = JSON.parse(sink.seen[1].body) as Event;
      assert.equal(r.event_action, 'resolve');
      assert.equal(r.dedup_key, t.dedup_key);
      assert.equal(r.payload, undefined);
    } finally {
      await sink.close();
    }
  });

  it('400 invalid event is permanent with PagerDuty errors; 429 is retried; the key is never in errors', async () => {
    const sink = await httpSink(enqueue);
    try {
      let r = await mk(sink.url, { severity: 'disaster' }).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && r.error.includes("'payload.severity' is invalid"), JSON.stringify(r));
      assert.ok(!r.ok && !r.error.includes(KEY));
      r = await mk(sink.url, { routing_key: 'R4TELIMITED456789abcdefABCDEF012' }).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && r.retry, JSON.stringify(r));
      r = await mk('http://127.0.0.1:1').notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && r.retry && !r.error.includes(KEY), JSON.stringify(r));
    } finally {
      await sink.close();
    }
  });

  it('config: one key is required', () => {
    assert.equal(receiver.safeParse({ name: 'r', pagerduty_configs: [{ client: 'x' }] }).success, false);
    assert.equal(receiver.safeParse({ name: 'r', pagerduty_configs: [{ service_key: 'x', routing_key: 'y' }] }).success, false);
    assert.equal(receiver.safeParse({ name: 'r', pagerduty_configs: [{ service_key: 'x' }] }).success, true);
  });
});
