// Telegram against a faithful Bot API: token in the path, JSON body checked as sendMessage
// checks it, answers {"ok":false,"error_code","description"} on error.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { receiver } from '../../config/alertmanager.js';
import { alert, integrationCtx, notifyCtx, sampleAlerts } from '../testdata/alerts.js';
import { httpSink, type Seen } from '../testdata/httpsink.js';
import { TelegramIntegration } from './telegram.js';

const TOKEN = '123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11';

function botApi(s: Seen) {
  const m = /^\/bot([^/]+)\/sendMessage$/.exec(s.url);
  if (!m) return { status: 404, body: { ok: false, error_code: 404, description: 'Not Found' } };
  if (m[1] !== TOKEN) return { status: 401, body: { ok: false, error_code: 401, description: 'Unauthorized' } };
  const j = JSON.parse(s.body) as { chat_id?: number; text?: string; parse_mode?: string; message_thread_id?: number };
  if (j.chat_id === 429) return { status: 429, body: { ok: false, error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } } };
  if (j.chat_id !== -1001234) return { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: chat not found' } };
  if (!j.text) return { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: message text is empty' } };
  if ([...j.text].length > 4096) return { status: 400, body: { ok: false, error_code: 400, description: 'Bad Request: message is too long' } };
  if (j.parse_mode === 'HTML' && /<(?!\/?(b|i|u|s|a|code|pre)\b)/.test(j.text)) return { status: 400, body: { ok: false, error_code: 400, description: "Bad Request: can't parse entities: Unsupported start tag" } };
  return { status: 200, body: { ok: true, result: { message_id: 1, chat: { id: j.chat_id }, text: j.text, message_thread_id: j.message_thread_id } } };
}

describe('telegram', () => {
  it('sends the default message (HTML-escaped) with thread id; token from bot_token_file', async () => {
    const sink = await httpSink(botApi);
    const dir = mkdtempSync(join(tmpdir(), 'patrol-tg-'));
    try {
      writeFileSync(join(dir, 'token'), TOKEN + '\n');
      const rc = receiver.parse({ name: 'r', telegram_configs: [{ api_url: sink.url, bot_token_file: 'token', chat_id: -1001234, message_thread_id: 42 }] });
      const integ = new TelegramIntegration(rc.telegram_configs![0], integrationCtx({}, { baseDir: dir }));
      const alerts = [...sampleAlerts, alert({ alertname: 'Queue<Backlog>', severity: 'warning' })];
      assert.deepEqual(await integ.notify(notifyCtx(), alerts), { ok: true });
      const j = JSON.parse(sink.seen[0].body) as { text: string; message_thread_id: number; parse_mode: string };
      assert.equal(j.message_thread_id, 42);
      assert.equal(j.parse_mode, 'HTML');
      assert.match(j.text, /Queue&lt;Backlog&gt;/);
    } finally {
      rmSync(dir, { recursive: true });
      await sink.close();
    }
  });

  it('cuts long messages to 4096 characters', async () => {
    const sink = await httpSink(botApi);
    try {
      const rc = receiver.parse({ name: 'r', telegram_configs: [{ api_url: sink.url, bot_token: TOKEN, chat_id: '-1001234', message: '{{ range .Alerts }}告警 {{ .Labels.instance }} {{ end }}' }] });
      const many = Array.from({ length: 600 }, (_x, i) => alert({ alertname: 'X', instance: `host-${i}` }));
      assert.deepEqual(await new TelegramIntegration(rc.telegram_configs![0], integrationCtx()).notify(notifyCtx(), many), { ok: true });
      assert.equal([...(JSON.parse(sink.seen[0].body) as { text: string }).text].length, 4096);
    } finally {
      await sink.close();
    }
  });

  it('errors: description reported, token never; 400/401 permanent, 429 retried', async () => {
    const sink = await httpSink(botApi);
    try {
      const mk = (token: string, chat: number) => new TelegramIntegration(receiver.parse({ name: 'r', telegram_configs: [{ api_url: sink.url, bot_token: token, chat_id: chat }] }).telegram_configs![0], integrationCtx());
      let r = await mk(TOKEN, 99).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && r.error === 'telegram 400: Bad Request: chat not found', JSON.stringify(r));
      r = await mk('999:wrong-token-value', -1001234).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && r.error.includes('Unauthorized') && !r.error.includes('wrong-token-value'), JSON.stringify(r));
      r = await mk(TOKEN, 429).notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && r.retry && /retry after 7s/.test(r.error), JSON.stringify(r));
    } finally {
      await sink.close();
    }
  });

  it('config: exactly one of bot_token and bot_token_file; chat_id an integer', () => {
    assert.equal(receiver.safeParse({ name: 'r', telegram_configs: [{ chat_id: 1 }] }).success, false);
    assert.equal(receiver.safeParse({ name: 'r', telegram_configs: [{ bot_token: 'x', chat_id: 'abc' }] }).success, false);
  });
});
