// Slack and Teams against faithful local servers: Slack's incoming webhook answers "ok" or 400
// "invalid_payload"/404 "no_service", chat.postMessage answers 200 {"ok":false,"error":…}; a
// Teams workflow answers 202 and checks the Adaptive Card's shape.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { receiver } from '../../config/alertmanager.js';
import { MsteamsV2Integration } from '../msteams/msteamsv2.js';
import { integrationCtx, notifyCtx, sampleAlerts } from '../testdata/alerts.js';
import { httpSink, type Seen } from '../testdata/httpsink.js';
import { SlackIntegration } from './slack.js';

/** What Slack's incoming webhook checks: a JSON body with text or attachments. */
function slackWebhook(s: Seen) {
  if (!s.url.startsWith('/services/T000/B000/')) return { status: 404, body: 'no_service' };
  if (s.url !== '/services/T000/B000/XXXX') return { status: 403, body: 'invalid_token' };
  let j: { text?: string; attachments?: { title?: string; text?: string }[] };
  try {
    j = JSON.parse(s.body) as typeof j;
  } catch {
    return { status: 400, body: 'invalid_payload' };
  }
  if (!j.text && !(j.attachments && j.attachments.length > 0)) return { status: 400, body: 'no_text' };
  return { status: 200, body: 'ok' };
}

describe('slack', () => {
  it('posts one attachment with Alertmanager defaults; "ok" is success', async () => {
    const sink = await httpSink(slackWebhook);
    try {
      const rc = receiver.parse({ name: 'r', slack_configs: [{ api_url: `${sink.url}/services/T000/B000/XXXX`, channel: '#ops-{{ .CommonLabels.service }}' }] });
      const integ = new SlackIntegration(rc.slack_configs![0], integrationCtx());
      assert.deepEqual(await integ.notify(notifyCtx(), sampleAlerts), { ok: true });
      const j = JSON.parse(sink.seen[0].body) as { channel: string; username: string; attachments: Record<string, unknown>[] };
      assert.equal(j.channel, '#ops-api');
      assert.equal(j.username, 'Patrol');
      const a = j.attachments[0];
      assert.equal(a.title, '[FIRING:2] CRITICAL HighLatency');
      assert.equal(a.color, 'danger');
      assert.equal(a.title_link, 'http://patrol.example:9090');
      assert.deepEqual(a.mrkdwn_in, ['fallback', 'pretext', 'text']);
      assert.match(String(a.text), /Firing \(2\):/);
      await integ.close();
    } finally {
      await sink.close();
    }
  });

  it('webhook errors fail for good without the URL; 5xx and 429 are retried', async () => {
    const sink = await httpSink((s) => (s.url.includes('busy') ? { status: 429, body: 'rate_limited' } : s.url.includes('down') ? { status: 503, body: 'oops' } : slackWebhook(s)));
    try {
      for (const [path, retry, word] of [
        ['/services/T000/B000/WRONG', false, 'invalid_token'],
        ['/services/nope', false, 'no_service'],
        ['/busy', true, 'rate_limited'],
        ['/down', true, 'oops'],
      ] as const) {
        const rc = receiver.parse({ name: 'r', slack_configs: [{ api_url: sink.url + path }] });
        const r = await new SlackIntegration(rc.slack_configs![0], integrationCtx()).notify(notifyCtx(), sampleAlerts);
        assert.ok(!r.ok && r.retry === retry && r.error.includes(word), `${path}: ${JSON.stringify(r)}`);
        assert.ok(!r.ok && !r.error.includes(path));
      }
    } finally {
      await sink.close();
    }
  });

  it('chat.postMessage: 200 {"ok":false} is a permanent error naming Slack error; global slack_api_url', async () => {
    const sink = await httpSink((s) => {
      const j = JSON.parse(s.body) as { channel: string };
      if (s.headers.authorization !== 'Bearer xoxb-test') return { status: 200, body: { ok: false, error: 'not_authed' } };
      if (j.channel !== '#ops') return { status: 200, body: { ok: false, error: 'channel_not_found' } };
      return { status: 200, body: { ok: true, channel: 'C123', ts: '1.2' } };
    });
    try {
      const ctx = integrationCtx({ slack_api_url: `${sink.url}/api/chat.postMessage`, http_config: { authorization: { credentials: 'xoxb-test' } } });
      const good = receiver.parse({ name: 'r', slack_configs: [{ channel: '#ops' }] }).slack_configs![0];
      assert.deepEqual(await new SlackIntegration(good, ctx).notify(notifyCtx(), sampleAlerts), { ok: true });
      const bad = receiver.parse({ name: 'r', slack_configs: [{ channel: '#nope' }] }).slack_configs![0];
      const r = await new SlackIntegration(bad, ctx).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && r.error === 'slack error: channel_not_found', JSON.stringify(r));
    } finally {
      await sink.close();
    }
  });
});

/** A Teams workflow trigger: 202 for a message with an Adaptive Card attachment, else 400. */
function teamsWorkflow(s: Seen) {
  if (!s.url.includes('sig=good')) return { status: 401, body: { error: { code: 'DirectApiAuthorizationRequired', message: 'The request must be authenticated' } } };
  const j = JSON.parse(s.body) as { type?: string; attachments?: { contentType?: string; content?: { type?: string; body?: unknown[] } }[] };
  const card = j.attachments?.[0];
  if (j.type !== 'message' || card?.contentType !== 'application/vnd.microsoft.card.adaptive' || card.content?.type !== 'AdaptiveCard' || !Array.isArray(card.content.body)) {
    return { status: 400, body: { error: { code: 'InvalidRequestContent', message: 'The input body for trigger manual of type Request did not match its schema definition' } } };
  }
  return { status: 202, body: '' };
}

describe('msteamsv2', () => {
  it('sends an Adaptive Card; 202 is success; a bad signature fails for good, not naming the URL', async () => {
    const sink = await httpSink(teamsWorkflow);
    try {
      const mk = (sig: string, extra: Record<string, unknown> = {}) => new MsteamsV2Integration(receiver.parse({ name: 'r', msteamsv2_configs: [{ webhook_url: `${sink.url}/workflows/1/triggers/manual/paths/invoke?sig=${sig}`, ...extra }] }).msteamsv2_configs![0], integrationCtx({}, { language: 'zh-CN' }));
      assert.deepEqual(await mk('good').notify(notifyCtx(), sampleAlerts), { ok: true });
      const card = (JSON.parse(sink.seen[0].body) as { attachments: { content: { body: { text: string; color?: string }[] } }[] }).attachments[0].content;
      assert.equal(card.body[0].text, '[告警:2] CRITICAL HighLatency');
      assert.equal(card.body[0].color, 'Attention');
      assert.match(card.body[1].text, /告警中（2）/);
      const r = await mk('bad-secret-sig').notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && r.error.includes('DirectApiAuthorizationRequired') && !r.error.includes('bad-secret-sig'), JSON.stringify(r));
    } finally {
      await sink.close();
    }
  });
});
