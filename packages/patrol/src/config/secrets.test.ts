import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { loadConfigFile } from './load.js';
import { maskSecrets, maskUrlPassword, stripUrlCredentials } from './secrets.js';
import { showConfig } from './show.js';

// Every secret kind, each with a value that appears nowhere else in the file.
const SECRETS: [string, string][] = [
  ['PagerDuty routing_key', 'PD-ROUTING-1111'],
  ['PagerDuty service_key', 'PD-SERVICE-2222'],
  ['Opsgenie api_key', 'OG-APIKEY-3333'],
  ['Telegram bot_token', 'TG-BOTTOKEN-4444'],
  ['Discord webhook_url', 'DISCORD-HOOK-5555'],
  ['WeChat api_secret', 'WECHAT-SECRET-6666'],
  ['Slack api_url', 'SLACK-HOOK-7777'],
  ['webhook url with credentials', 'HOOKPASS-8888'],
  ['email auth_password', 'SMTP-PASS-9999'],
  ['proxy_url password', 'PROXYPASS-1010'],
  ['remote_write url password', 'RWPASS-1212'],
  ['scrape basic_auth password', 'SCRAPEPASS-1313'],
  ['probe target password', 'PROBEPASS-1414'],
  ['global opsgenie_api_key', 'OG-GLOBAL-1515'],
];

const CONFIG = `global: {scrape_interval: 1h}
alerting:
  global:
    opsgenie_api_key: OG-GLOBAL-1515
  route: {receiver: all}
  receivers:
    - name: all
      pagerduty_configs:
        - routing_key: PD-ROUTING-1111
        - service_key: PD-SERVICE-2222
      opsgenie_configs:
        - api_key: OG-APIKEY-3333
      telegram_configs:
        - bot_token: TG-BOTTOKEN-4444
          chat_id: 42
      discord_configs:
        - webhook_url: https://discord.example/api/webhooks/1/DISCORD-HOOK-5555
      wechat_configs:
        - api_secret: WECHAT-SECRET-6666
          corp_id: corp
      slack_configs:
        - api_url: https://hooks.slack.example/services/SLACK-HOOK-7777
          channel: '#alerts'
      webhook_configs:
        - url: https://bob:HOOKPASS-8888@hooks.example/alert
      email_configs:
        - to: ops@example.com
          from: patrol@example.com
          smarthost: mail.example:587
          auth_username: patrol
          auth_password: SMTP-PASS-9999
remote_write:
  - url: https://writer:RWPASS-1212@remote.example/api/v1/write
scrape_configs:
  - job_name: proxied
    proxy_url: http://proxyuser:PROXYPASS-1010@proxy.example:3128
    basic_auth: {username: u, password: SCRAPEPASS-1313}
    static_configs: [{targets: ['127.0.0.1:1']}]
probes:
  - name: withpass
    type: http
    target: http://prober:PROBEPASS-1414@127.0.0.1:1/health
    interval: 1s
    timeout: 500ms
    labels:
      link: http://labeluser:LABELPASS-1616@docs.example/runbook
`;

function assertMasked(what: string, text: string): void {
  for (const [kind, value] of [...SECRETS, ['label password', 'LABELPASS-1616'] as [string, string]]) {
    assert.ok(!text.includes(value), `${what} shows the ${kind} (${value})`);
  }
}

describe('secret masking', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-secrets-'));
  const file = join(dir, 'patrol.yml');
  let patrol: Patrol;

  before(async () => {
    writeFileSync(file, CONFIG);
    patrol = new Patrol({ configFile: file, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
  });
  after(async () => {
    await patrol.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the file really holds every secret (so the checks below can fail)', () => {
    for (const [, value] of SECRETS) assert.ok(CONFIG.includes(value));
  });

  it('masks every kind in check config --show', async () => {
    const r = await loadConfigFile(file);
    assert.ok(r.ok);
    const shown = showConfig(r.config);
    assertMasked('--show', shown);
    assert.match(shown, /proxy_url: http:\/\/proxyuser:<secret>@proxy\.example:3128/);
    assert.match(shown, /routing_key: <secret>/);
  });

  it('masks every kind in /api/patrol/v1/status/config', async () => {
    const text = await (await fetch(`http://${patrol.listen}/api/patrol/v1/status/config`)).text();
    assertMasked('/api/patrol/v1/status/config', text);
    assert.match(text, /https:\/\/writer:<secret>@remote\.example/);
  });

  it('masks every kind in /api/v1/status/config', async () => {
    const body = (await (await fetch(`http://${patrol.listen}/api/v1/status/config`)).json()) as { data: { yaml: string } };
    assertMasked('/api/v1/status/config', body.data.yaml);
    assert.match(body.data.yaml, /bot_token: <secret>/);
  });

  it('masks the probe target in the probes API and strips credentials from its labels', async () => {
    const probes = await (await fetch(`http://${patrol.listen}/api/patrol/v1/probes`)).text();
    assertMasked('/api/patrol/v1/probes', probes);
    assert.match(probes, /http:\/\/prober:<secret>@127\.0\.0\.1:1\/health/);
    let series: Record<string, string>[] = [];
    for (let i = 0; i < 100 && series.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const s = (await (await fetch(`http://${patrol.listen}/api/v1/series?match[]=probe_success`)).json()) as { data: Record<string, string>[] };
      series = s.data;
    }
    assert.equal(series.length, 1);
    assert.equal(series[0].instance, 'http://127.0.0.1:1/health');
    assert.equal(series[0].link, 'http://docs.example/runbook');
    const labels = await (await fetch(`http://${patrol.listen}/api/v1/label/instance/values`)).text();
    assertMasked('label values', labels);
  });

  it('maskUrlPassword and stripUrlCredentials', () => {
    assert.equal(maskUrlPassword('http://u:p@h/x?y=1'), 'http://u:<secret>@h/x?y=1');
    assert.equal(maskUrlPassword('http://u@h/'), 'http://u@h/');
    assert.equal(maskUrlPassword('not a url u:p@h'), 'not a url u:p@h');
    assert.equal(stripUrlCredentials('https://u:p@h:1/a@b'), 'https://h:1/a@b');
    assert.deepEqual(maskSecrets({ password_file: '/etc/pw', token: 'T', nested: [{ api_key: 12345 }] }), { password_file: '/etc/pw', token: '<secret>', nested: [{ api_key: '<secret>' }] });
  });
});
