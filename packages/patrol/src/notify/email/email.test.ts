// The email integration against a real SMTP server (smtp-server) over STARTTLS and implicit
// TLS, with PLAIN, LOGIN and CRAM-MD5 auth; the message is read back and parsed.

import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { receiver } from '../../config/alertmanager.js';
import { makeCerts, type CertSet } from '../../probe/testdata/servers.js';
import { integrationCtx, notifyCtx, sampleAlerts } from '../testdata/alerts.js';
import { NotifyTemplates } from '../tmpl.js';
import { EmailIntegration, IMPLICIT_TLS_PORTS, type EmailConfig } from './email.js';

const USER = 'patrol';
const PASS = 's3cr3t-Pa55';

interface Received {
  mail: ParsedMail;
  raw: string;
  secure: boolean;
  method: string;
  from: string;
  to: string[];
}

async function server(opts: Partial<SMTPServerOptions>, certs: CertSet): Promise<{ port: number; got: Received[]; close(): Promise<void> }> {
  const got: Received[] = [];
  const s = new SMTPServer({
    key: certs.good.key,
    cert: certs.good.cert,
    authOptional: false,
    disabledCommands: [],
    logger: false,
    onAuth(auth, _session, cb) {
      const ok = auth.method === 'CRAM-MD5' ? auth.username === USER && auth.validatePassword(PASS) : auth.username === USER && auth.password === PASS;
      if (!ok) return cb(new Error('Invalid username or password'));
      cb(null, { user: `${auth.method}:${USER}` });
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then(
          (mail) => {
            got.push({ mail, raw, secure: session.secure, method: String(session.user).split(':')[0], from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) });
            cb();
          },
          (e: Error) => cb(e),
        );
      });
    },
    ...opts,
  });
  await new Promise<void>((res) => s.listen(0, '127.0.0.1', () => res()));
  const port = (s.server.address() as AddressInfo).port;
  return { port, got, close: () => new Promise<void>((res) => s.close(() => res())) };
}

function conf(c: Record<string, unknown>): EmailConfig {
  return receiver.parse({ name: 'r', email_configs: [c] }).email_configs![0];
}

describe('email over SMTP', () => {
  let certs: CertSet;
  before(() => {
    certs = makeCerts();
  });
  after(() => certs.cleanup());

  it('STARTTLS with PLAIN auth: headers, HTML and text parts, English default subject', async () => {
    const srv = await server({ authMethods: ['PLAIN'] }, certs);
    try {
      const integ = new EmailIntegration(
        conf({
          to: 'oncall@example.com, lead@example.com',
          from: 'Patrol <patrol@example.com>',
          smarthost: `localhost:${srv.port}`,
          auth_username: USER,
          auth_password: PASS,
          tls_config: { ca: certs.ca },
          headers: { 'x-team': '{{ .GroupLabels.alertname }}-team', subject: 'Custom: {{ .Status }} {{ len .Alerts }}' },
          text: '{{ template "email.default.text" . }}',
          send_resolved: true,
        }),
        integrationCtx({}, { templates: new NotifyTemplates([], '.', 'UTC') }),
      );
      const withTag = [...sampleAlerts.slice(0, 2).map((a) => ({ ...a, labels: { ...a.labels, path: '<script>' } })), sampleAlerts[2]];
      const r = await integ.notify(notifyCtx({ ackURL: (fp) => `http://patrol.example:9090/api/patrol/v1/ack/${fp}?exp=1&sig=s` }), withTag);
      assert.deepEqual(r, { ok: true });
      assert.equal(srv.got.length, 1);
      const g = srv.got[0];
      assert.equal(g.secure, true, 'upgraded with STARTTLS');
      assert.equal(g.method, 'PLAIN');
      assert.equal(g.from, 'patrol@example.com');
      assert.deepEqual(g.to, ['oncall@example.com', 'lead@example.com']);
      assert.equal(g.mail.subject, 'Custom: firing 3');
      assert.equal(g.mail.headers.get('x-team'), 'HighLatency-team');
      assert.match(String(g.mail.html), /<h2[^>]*>\[FIRING:2\] CRITICAL HighLatency<\/h2>/);
      assert.match(String(g.mail.html), /p99 latency 2\.3s on api-1/);
      assert.match(String(g.mail.html), /Resolved \(1\)/);
      assert.ok(String(g.mail.html).includes('href="http://patrol.example:9090/#/silences/new?filter=%7Balertname%3D%22HighLatency%22%2Cinstance%3D%22api-1%3A9090%22%2Cpath%3D%22%3Cscript%3E%22%2Cservice%3D%22api%22%2Cseverity%3D%22critical%22%7D"'), String(g.mail.html));
      assert.match(String(g.mail.text), /^Firing \(2\):\n- \[CRITICAL\] HighLatency: p99 latency 2\.3s on api-1\n {2}started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC, firing for 5m/);
      assert.equal(String(g.mail.text).match(/ {2}acknowledge: http:\/\/patrol\.example:9090\/api\/patrol\/v1\/ack\/[0-9a-f]{16}\?exp=1&sig=s\n/g)?.length, 2, 'each firing alert, not the resolved one, has its link');
      assert.match(String(g.mail.html), />Acknowledge<\/a>/);
      assert.doesNotMatch(g.raw, new RegExp(PASS));
      assert.match(String(g.mail.html), /path=&lt;script&gt;/, 'label values escaped in HTML');
    } finally {
      await srv.close();
    }
  });

  it('implicit TLS with LOGIN auth from global smtp_* defaults, Chinese default templates', async () => {
    const srv = await server({ secure: true, authMethods: ['LOGIN'] }, certs);
    IMPLICIT_TLS_PORTS.add(srv.port);
    try {
      const integ = new EmailIntegration(
        conf({ to: 'oncall@example.com', tls_config: { ca: certs.ca } }),
        integrationCtx(
          { smtp_from: 'patrol@example.com', smtp_smarthost: `localhost:${srv.port}`, smtp_auth_username: USER, smtp_auth_password: PASS, smtp_hello: 'patrol.test' },
          { language: 'zh-CN', templates: new NotifyTemplates([], '.', 'Asia/Shanghai') },
        ),
      );
      // A fixed start: the default message shows it in global.time_zone (here Beijing time, UTC+8).
      const startsAt = Date.parse('2026-12-04T12:00:05Z');
      const r = await integ.notify(notifyCtx(), sampleAlerts.map((a) => ({ ...a, startsAt })));
      assert.deepEqual(r, { ok: true });
      const g = srv.got[0];
      assert.equal(g.secure, true);
      assert.equal(g.method, 'LOGIN');
      assert.equal(g.mail.subject, '[告警:2] CRITICAL HighLatency');
      assert.match(String(g.mail.html), /告警中（2）/);
      assert.match(String(g.mail.html), /已恢复（1）/);
      assert.match(String(g.mail.html), /开始于 2026-12-04 20:00:05 GMT\+8，已持续/);
      assert.doesNotMatch(g.raw, /text\/plain/, 'no text part unless configured (Alertmanager default)');
    } finally {
      IMPLICIT_TLS_PORTS.delete(srv.port);
      await srv.close();
    }
  });

  it('CRAM-MD5 with auth_secret', async () => {
    const srv = await server({ authMethods: ['CRAM-MD5'] }, certs);
    try {
      const integ = new EmailIntegration(
        conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `127.0.0.1:${srv.port}`, auth_username: USER, auth_secret: PASS, tls_config: { ca: certs.ca, server_name: 'localhost' } }),
        integrationCtx(),
      );
      assert.deepEqual(await integ.notify(notifyCtx(), sampleAlerts), { ok: true });
      assert.equal(srv.got[0].method, 'CRAM-MD5');
    } finally {
      await srv.close();
    }
  });

  it('a wrong password is a permanent error that does not repeat the password', async () => {
    const srv = await server({ authMethods: ['PLAIN'] }, certs);
    try {
      const integ = new EmailIntegration(
        conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${srv.port}`, auth_username: USER, auth_password: 'wrong-Pa55word', tls_config: { ca: certs.ca } }),
        integrationCtx(),
      );
      const r = await integ.notify(notifyCtx(), sampleAlerts);
      assert.equal(r.ok, false);
      assert.ok(!r.ok && !r.retry && r.reason === 'clientError', JSON.stringify(r));
      assert.ok(!r.ok && !r.error.includes('wrong-Pa55word'));
      assert.equal(srv.got.length, 0);
    } finally {
      await srv.close();
    }
  });

  it('require_tls against a server without STARTTLS fails for good; an untrusted certificate too', async () => {
    const plain = await server({ disabledCommands: ['STARTTLS'], authOptional: true }, certs);
    try {
      const integ = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${plain.port}` }), integrationCtx());
      const r = await integ.notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry, JSON.stringify(r));
      assert.match(!r.ok ? r.error : '', /STARTTLS/);
      // require_tls: false sends in clear.
      const clear = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${plain.port}`, require_tls: false }), integrationCtx());
      assert.deepEqual(await clear.notify(notifyCtx(), sampleAlerts), { ok: true });
      assert.equal(plain.got[0].secure, false);
    } finally {
      await plain.close();
    }
    const tls = await server({ authOptional: true }, certs);
    try {
      const integ = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${tls.port}` }), integrationCtx());
      const r = await integ.notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry, JSON.stringify(r));
    } finally {
      await tls.close();
    }
  });

  it('a 4xx reply is retried; a refused connection too', async () => {
    const srv = await server({ authOptional: true, onRcptTo: (_a, _s, cb) => cb(Object.assign(new Error('Try again later'), { responseCode: 451 })) }, certs);
    try {
      const integ = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${srv.port}`, tls_config: { ca: certs.ca } }), integrationCtx());
      const r = await integ.notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && r.retry, JSON.stringify(r));
    } finally {
      await srv.close();
    }
    const gone = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:1` }), integrationCtx());
    const r = await gone.notify(notifyCtx(), sampleAlerts);
    assert.ok(!r.ok && r.retry, JSON.stringify(r));
  });

  it('users template files define what the config names; a missing template is a permanent error', async () => {
    const srv = await server({ authOptional: true }, certs);
    try {
      const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
      const { join } = await import('node:path');
      const { tmpdir } = await import('node:os');
      const dir = mkdtempSync(join(tmpdir(), 'patrol-tmpl-'));
      writeFileSync(join(dir, 'mine.tmpl'), '{{ define "my.subject" }}{{ .CommonLabels.service }} is {{ .Status }}{{ end }}');
      const templates = new NotifyTemplates(['*.tmpl'], dir);
      rmSync(dir, { recursive: true });
      const ok = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${srv.port}`, tls_config: { ca: certs.ca }, headers: { Subject: '{{ template "my.subject" . }}' } }), integrationCtx({}, { templates }));
      assert.deepEqual(await ok.notify(notifyCtx(), sampleAlerts), { ok: true });
      assert.equal(srv.got[0].mail.subject, 'api is firing');
      const bad = new EmailIntegration(conf({ to: 'a@example.com', from: 'p@example.com', smarthost: `localhost:${srv.port}`, headers: { Subject: '{{ template "nope" . }}' } }), integrationCtx({}, { templates }));
      const r = await bad.notify(notifyCtx(), sampleAlerts);
      assert.ok(!r.ok && !r.retry && /Subject/.test(r.error), JSON.stringify(r));
    } finally {
      await srv.close();
    }
  });
});

describe('email config checks', () => {
  it('from and smarthost come from the config or global; smarthost is host:port', async () => {
    const { alertingConfig } = await import('../../config/alertmanager.js');
    const parse = (global: object, e: object) => alertingConfig.safeParse({ global, route: { receiver: 'r' }, receivers: [{ name: 'r', email_configs: [{ to: 'a@example.com', ...e }] }] });
    const msgs = (r: ReturnType<typeof parse>) => (r.success ? [] : r.error.issues.map((i) => i.message));
    assert.deepEqual(msgs(parse({}, {})), ['no global SMTP from set', 'no global SMTP smarthost set']);
    assert.deepEqual(msgs(parse({ time_zone: 'Mars/Olympus', smtp_from: 'a@b.c', smtp_smarthost: 'h:25' }, {})), ['"Mars/Olympus" is not a time zone (expected e.g. "UTC", "Europe/Berlin")']);
    assert.deepEqual(msgs(parse({ smtp_from: 'p@example.com', smtp_smarthost: 'mail.example.com' }, {})), ['smarthost "mail.example.com" is not host:port']);
    assert.deepEqual(msgs(parse({ smtp_from: 'p@example.com', smtp_smarthost: 'mail.example.com:587' }, {})), []);
    process.env.PATROL_TEST_SMTP_PW = 'from-env-Pa55';
    const ok = parse({ smtp_from: 'p@example.com' }, { smarthost: '[::1]:25', auth_password: '${PATROL_TEST_SMTP_PW}' });
    assert.ok(ok.success);
    assert.equal(ok.data.receivers[0].email_configs![0].auth_password!.reveal(), 'from-env-Pa55');
    assert.equal(JSON.stringify(ok.data.receivers[0].email_configs![0].auth_password), '"<secret>"');
  });
});
