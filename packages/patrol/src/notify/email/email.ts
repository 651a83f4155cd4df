// The email integration: Alertmanager's email_configs sent over SMTP with nodemailer. Port 465
// is implicit TLS; any other port starts in clear and upgrades with STARTTLS, required unless
// `require_tls: false` (then none is attempted, as Alertmanager). Auth follows Alertmanager:
// CRAM-MD5 with `auth_secret`, else PLAIN or LOGIN with the password, whichever the server
// offers. Templates render the headers (Subject, To, From and custom ones), the HTML and text
// parts. SMTP 5xx replies and auth failures are permanent; 4xx and network errors are retried.

import { readFileSync } from 'node:fs';
import type nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { z } from 'zod';
import type { receiver } from '../../config/alertmanager.js';
import { readSecretFile, resolvePath } from '../../scrape/httpclient.js';
import type { Alert } from '../../model/alert.js';
import { registerIntegration, type Integration, type IntegrationContext, type NotifyContext, type NotifyResult } from '../notifier.js';
import { defaultTemplates, notifyData, type NotifyTemplates } from '../tmpl.js';
import { defaultTemplate } from '../tmpl_defaults.js';

export type EmailConfig = NonNullable<z.infer<typeof receiver>['email_configs']>[number];

/** Go's textproto.CanonicalMIMEHeaderKey: "x-priority" → "X-Priority". */
function canonicalHeader(k: string): string {
  return k.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

/** Splits host:port (with [v6]:port); throws naming a smarthost without a port. */
export function splitSmarthost(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (!m) throw new Error(`smarthost ${JSON.stringify(s)} is not host:port`);
  return { host: m[1] ?? m[2], port: Number(m[3]) };
}

/** Ports spoken to with TLS from the first byte (Alertmanager: 465); tests add theirs. */
export const IMPLICIT_TLS_PORTS = new Set([465]);

interface Settings {
  from: string;
  smarthost: { host: string; port: number };
  hello: string;
  username?: string;
  password?: () => string;
  secret?: () => string;
  requireTls: boolean;
  tls: { ca?: string; cert?: string; key?: string; servername?: string; rejectUnauthorized: boolean };
}

/** The config merged with `global.smtp_*`; throws naming a missing key. */
export function emailSettings(conf: EmailConfig, ctx: Pick<IntegrationContext, 'global' | 'baseDir'>): Settings {
  const g = ctx.global;
  const from = conf.from ?? g?.smtp_from;
  if (!from) throw new Error('email_configs: no from address (from or global.smtp_from)');
  const host = conf.smarthost ?? g?.smtp_smarthost;
  if (!host) throw new Error('email_configs: no smarthost (smarthost or global.smtp_smarthost)');
  const smarthost = splitSmarthost(host);
  // As Alertmanager: the auth keys are inherited from global only as a whole, when the
  // integration names none of them.
  const own = conf.auth_username !== undefined || conf.auth_password !== undefined || conf.auth_password_file !== undefined || conf.auth_secret !== undefined || conf.auth_identity !== undefined;
  const username = own ? conf.auth_username : g?.smtp_auth_username;
  const pw = own ? conf.auth_password : g?.smtp_auth_password;
  const pwFile = own ? conf.auth_password_file : g?.smtp_auth_password_file;
  const secret = own ? conf.auth_secret : g?.smtp_auth_secret;
  const tlsConf = conf.tls_config ?? g?.smtp_tls_config;
  const read = (inline: string | undefined, file: string | undefined) => inline ?? (file ? readFileSync(resolvePath(file, ctx.baseDir), 'utf8') : undefined);
  return {
    from,
    smarthost,
    hello: conf.hello ?? g?.smtp_hello ?? 'localhost',
    username,
    password: pw ? () => pw.reveal() : pwFile ? () => readSecretFile(pwFile, ctx.baseDir) : undefined,
    secret: secret ? () => secret.reveal() : undefined,
    requireTls: conf.require_tls ?? g?.smtp_require_tls ?? true,
    tls: {
      ca: read(tlsConf?.ca, tlsConf?.ca_file),
      cert: read(tlsConf?.cert, tlsConf?.cert_file),
      key: read(tlsConf?.key?.reveal(), tlsConf?.key_file),
      servername: tlsConf?.server_name ?? smarthost.host,
      rejectUnauthorized: !(tlsConf?.insecure_skip_verify ?? false),
    },
  };
}

interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
}

/** Permanent: the server refused for good (5xx, failed auth, bad certificate); else retried. */
export function classifySmtpError(e: SmtpError, secrets: string[]): NotifyResult {
  let msg = e.message;
  for (const s of secrets) if (s) msg = msg.split(s).join('<secret>');
  const rc = e.responseCode ?? 0;
  if (e.code === 'EAUTH') return { ok: false, retry: false, reason: 'clientError', error: `smtp auth: ${msg}` };
  if (rc >= 500) return { ok: false, retry: false, reason: 'clientError', error: `smtp: ${msg}` };
  if (rc >= 400) return { ok: false, retry: true, reason: 'serverError', error: `smtp: ${msg}` };
  const certError = /certificate|self[- ]signed|CERT_|unable to verify/i.test(msg);
  if (certError) return { ok: false, retry: false, reason: 'other', error: `smtp tls: ${msg}` };
  if (e.code === 'ETLS' && /STARTTLS/i.test(msg)) return { ok: false, retry: false, reason: 'other', error: `require_tls is true but the server does not offer STARTTLS: ${msg}` };
  return { ok: false, retry: true, reason: 'other', error: `smtp: ${msg}` };
}

export class EmailIntegration implements Integration {
  readonly name = 'email';
  readonly index: number;
  readonly sendResolved: boolean;
  private readonly settings: Settings;
  private readonly templates: NotifyTemplates;

  constructor(
    private readonly conf: EmailConfig,
    private readonly ctx: IntegrationContext,
  ) {
    this.index = ctx.index;
    this.sendResolved = conf.send_resolved ?? false;
    this.settings = emailSettings(conf, ctx);
    this.templates = ctx.templates ?? defaultTemplates();
  }

  private transportOptions(): SMTPTransport.Options {
    const s = this.settings;
    const implicit = IMPLICIT_TLS_PORTS.has(s.smarthost.port);
    const opts: SMTPTransport.Options = {
      host: s.smarthost.host,
      port: s.smarthost.port,
      name: s.hello,
      secure: implicit,
      requireTLS: !implicit && s.requireTls,
      ignoreTLS: !implicit && !s.requireTls,
      tls: { ...s.tls },
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 60_000,
    };
    if (s.username) {
      if (s.secret) opts.auth = { type: 'login', user: s.username, pass: s.secret(), method: 'CRAM-MD5' };
      else if (s.password) opts.auth = { type: 'login', user: s.username, pass: s.password() };
    }
    return opts;
  }

  async notify(ctx: NotifyContext, alerts: readonly Alert[]): Promise<NotifyResult> {
    const data = notifyData(ctx, alerts);
    const lang = this.ctx.language;
    const headerTemplates: Record<string, string> = {
      From: this.settings.from,
      To: this.conf.to,
      Subject: defaultTemplate('email', 'subject', lang),
    };
    for (const [k, v] of Object.entries(this.conf.headers ?? {})) headerTemplates[canonicalHeader(k)] = v;
    let rendered: Record<string, string>;
    let html: string;
    let text: string;
    try {
      rendered = await this.templates.renderAll(headerTemplates, data);
      html = await this.templates.render(this.conf.html ?? defaultTemplate('email', 'html', lang), data);
      text = this.conf.text !== undefined ? await this.templates.render(this.conf.text, data) : '';
    } catch (e) {
      return { ok: false, retry: false, reason: 'other', error: `template: ${(e as Error).message}` };
    }
    const { From: from, To: to, Subject: subject, ...other } = rendered;
    const secrets = [this.settings.password?.() ?? '', this.settings.secret?.() ?? ''];
    let transport: ReturnType<typeof nodemailer.createTransport> | undefined;
    try {
      transport = (await loadNodemailer()).createTransport(this.transportOptions());
      const abort = () => transport?.close();
      ctx.signal.addEventListener('abort', abort, { once: true });
      try {
        await transport.sendMail({
          from,
          to,
          subject,
          headers: other,
          ...(html ? { html } : {}),
          ...(text ? { text } : {}),
          date: new Date(ctx.now),
        });
      } finally {
        ctx.signal.removeEventListener('abort', abort);
      }
      return { ok: true };
    } catch (e) {
      return classifySmtpError(e as SmtpError, secrets);
    } finally {
      transport?.close();
    }
  }
}

/** nodemailer (about 40 modules) is loaded on the first email sent, not at start, so that a
 * configuration without email does not carry it in memory (issue 15's memory target). */
let nodemailerModule: Promise<typeof nodemailer> | undefined;
function loadNodemailer(): Promise<typeof nodemailer> {
  nodemailerModule ??= import('nodemailer').then((m) => m.default);
  return nodemailerModule;
}

registerIntegration<EmailConfig>({
  configKey: 'email_configs',
  name: 'email',
  build: (conf, ctx) => new EmailIntegration(conf, ctx),
});
