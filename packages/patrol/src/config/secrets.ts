// One masking function for every place the configuration is shown: /api/patrol/v1/status/config,
// /api/v1/status/config and `check config --show`. Secret fields already print as <secret>
// (Secret.toJSON); this also masks what the schema keeps as plain text: secret-named keys of
// the receivers Patrol passes through as they are (PagerDuty routing_key, Opsgenie api_key,
// Telegram bot_token, Discord webhook_url…), and the password inside any URL (proxy_url,
// remote_write url, a probe target `http://user:pass@host`).

import { SECRET_MASK } from './secret.js';

/**
 * Keys whose value is a secret, as Alertmanager and Prometheus mark them (`<secret>` and
 * `<secret_url>`). Their `_file` variants name a file and are shown.
 */
const SECRET_KEY = /(^|_)(password|secret|token|api_key|routing_key|service_key|user_key|credentials|bot_token|webhook_url|api_secret|auth_secret|client_secret|secret_key|access_key|integration_key)$/i;

/** Keys whose value is a URL carrying a key (Slack's api_url, Discord/Teams webhook_url). */
const SECRET_URL_KEY = /^(webhook_url|slack_api_url)$/;

/** Whether a config key holds a secret. */
export function isSecretKey(key: string): boolean {
  if (key.endsWith('_file')) return false;
  return SECRET_KEY.test(key) || SECRET_URL_KEY.test(key);
}

/**
 * `url` with the password of its user information replaced by <secret> (`http://u:<secret>@h`),
 * or unchanged when it has none or is not a URL. The rest of the text is kept as written.
 */
export function maskUrlPassword(url: string): string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#@]*)@/.exec(url);
  if (!m) return url;
  const colon = m[2].indexOf(':');
  if (colon < 0) return url;
  return `${m[1]}${m[2].slice(0, colon)}:${SECRET_MASK}@${url.slice(m[0].length)}`;
}

/**
 * `url` without user information at all (`http://h/…`): for label values such as `instance`,
 * which are stored, exported and shown in every query result.
 */
export function stripUrlCredentials(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#@]*@/, '$1');
}

/**
 * A copy of `config` (any JSON-able value: a parsed Config, or part of it) fit to show: Secret
 * values become <secret> (through JSON), secret-named keys are masked whatever their type, and
 * every URL's password is masked. Objects that are not plain data are serialised as JSON first.
 */
export function maskSecrets<T>(config: T): unknown {
  const plain: unknown = config === undefined ? undefined : JSON.parse(JSON.stringify(config));
  return walk(plain);
}

function walk(v: unknown): unknown {
  if (typeof v === 'string') return maskUrlPassword(v);
  if (Array.isArray(v)) return v.map(walk);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      out[k] = isSecretKey(k) && x !== null && x !== '' && (typeof x === 'string' || typeof x === 'number') ? SECRET_MASK : walk(x);
    }
    return out;
  }
  return v;
}
