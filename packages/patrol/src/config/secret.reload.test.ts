// A secret field's value never reaches the reload response or the log, whatever is wrong with
// it (a map, a list, a value its own check refuses), and a numeric one is taken as its text,
// as Prometheus takes it, on a running Patrol through POST /-/reload.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

const receivers = (body: string) => `global: {scrape_interval: 1h}
host: {enabled: false}
alerting:
  route: {receiver: r}
  receivers:
    - name: r
${body}`;

const scrape = (auth: string) => `global: {scrape_interval: 1h}
host: {enabled: false}
scrape_configs:
  - job_name: a
${auth}
    static_configs: [{targets: ['127.0.0.1:1']}]
`;

/** Broken secrets: each configuration holds its marker only inside a secret field. */
const BROKEN: [string, string, string][] = [
  ['basic_auth password as a map', 'MARK-PW-MAP-101', scrape('    basic_auth: {username: u, password: {nested: MARK-PW-MAP-101}}')],
  ['basic_auth password as a list', 'MARK-PW-LIST-102', scrape('    basic_auth: {username: u, password: [MARK-PW-LIST-102]}')],
  ['authorization credentials as a map', 'MARK-CRED-103', scrape('    authorization: {credentials: {x: MARK-CRED-103}}')],
  ['oauth2 client_secret as a list', 'MARK-OAUTH-104', scrape('    oauth2: {client_id: c, token_url: "http://127.0.0.1:1/t", client_secret: [MARK-OAUTH-104]}')],
  ['PagerDuty routing_key as a map', 'MARK-PD-105', receivers('      pagerduty_configs: [{routing_key: {k: MARK-PD-105}}]')],
  ['Slack api_url that is not a URL', 'MARK-SLACK-106', receivers('      slack_configs: [{api_url: "not a url MARK-SLACK-106", channel: "#a"}]')],
  ['webhook url that is not a URL', 'MARK-HOOK-109', receivers('      webhook_configs: [{url: "::MARK-HOOK-109"}]')],
  ['DingTalk secret without SEC', 'MARK-DING-107', receivers('      dingtalk_configs: [{url: "https://oapi.dingtalk.com/robot/send?access_token=abc", secret: MARK-DING-107}]')],
  ['Telegram bot_token as a list', 'MARK-TG-108', receivers('      telegram_configs: [{bot_token: [MARK-TG-108], chat_id: 1}]')],
];

describe('secrets through a reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-secret-reload-'));
  const configFile = join(dir, 'patrol.yml');
  const log = new PassThrough();
  let logged = '';
  log.on('data', (d: Buffer) => (logged += d.toString()));
  let patrol: Patrol;
  let base: string;

  before(async () => {
    writeFileSync(configFile, 'global: {scrape_interval: 1h}\nhost: {enabled: false}\n');
    patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('debug', log) });
    await patrol.start();
    base = `http://${patrol.listen}`;
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const reload = async (yaml: string) => {
    writeFileSync(configFile, yaml);
    const r = await fetch(`${base}/-/reload`, { method: 'POST' });
    return { status: r.status, text: await r.text() };
  };

  for (const [what, marker, yaml] of BROKEN) {
    it(`${what}: refused, and the value is in neither the answer nor the log`, async () => {
      assert.ok(yaml.includes(marker));
      const before = logged.length;
      const r = await reload(yaml);
      assert.notEqual(r.status, 200, r.text);
      assert.ok(r.text.length > 0);
      assert.doesNotMatch(r.text, new RegExp(marker), r.text);
      await new Promise((ok) => setImmediate(ok));
      const lines = logged.slice(before);
      assert.match(lines, /reload|config/i, 'the failed reload is logged');
      assert.doesNotMatch(lines, new RegExp(marker));
    });
  }

  it('a numeric password is accepted as its text and shown masked', async () => {
    const before = logged.length;
    const r = await reload(scrape('    basic_auth: {username: u, password: 987654321}'));
    assert.equal(r.status, 200, r.text);
    const shown = ((await (await fetch(`${base}/api/v1/status/config`)).json()) as { data: { yaml: string } }).data.yaml;
    assert.match(shown, /password: <secret>/);
    assert.doesNotMatch(shown, /987654321/);
    assert.doesNotMatch(r.text + logged.slice(before), /987654321/);
  });
});
