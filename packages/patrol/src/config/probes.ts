// The `probes:` section: Patrol's active inspections. Common keys (name, type, target, interval,
// timeout, labels, thresholds, conditions) plus the keys of each type; a key that does not belong
// to the probe's type is an error. Conditions are parsed here, so a bad one fails the load and
// the message quotes it.

import { z } from 'zod';
import { ConditionSyntaxError, parseCondition, placeholderOf, type Condition, type Placeholder } from '../model/conditions.js';
import { formatDuration } from '../model/duration.js';
import { parseHostPort } from '../model/hostport.js';
import { compileSearch } from '../model/regex.js';
import { byteSize, duration, labelSet, secret, text, tlsConfig } from './fields.js';

const conditionList = z.array(z.string()).transform((list, ctx): Condition[] => {
  const out: Condition[] = [];
  list.forEach((t, i) => {
    try {
      out.push(parseCondition(t));
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof ConditionSyntaxError ? e.message : String(e), path: [i] });
    }
  });
  return out;
});

const ipProtocol = z.enum(['ip4', 'ip6']);

const common = {
  name: z.string().min(1),
  target: z.string().min(1),
  interval: duration.default(30_000),
  /** Defaults to 10s, or the interval when that is shorter; only a written timeout can be an error. */
  timeout: duration.optional(),
  labels: labelSet.default({}),
  failure_threshold: z.number().int().positive().default(3),
  success_threshold: z.number().int().positive().default(1),
  /** Assertions; when empty the type's defaults apply (http: [STATUS] == 2xx). */
  conditions: conditionList.default([]),
  /**
   * Checked only when `conditions` pass: one failing makes the run DEGRADED (working, but not
   * as it should: slow, a warning in the body) instead of failed.
   */
  degrading_conditions: conditionList.default([]),
  /** Address family tried first when the target's name resolves to both; the other is the fallback. */
  preferred_ip_protocol: ipProtocol.default('ip4'),
  ip_protocol_fallback: z.boolean().default(true),
};

const httpProbe = z.strictObject({
  ...common,
  type: z.literal('http'),
  method: z
    .string()
    .regex(/^[A-Za-z]+$/, 'is not an HTTP method')
    .transform((m) => m.toUpperCase())
    .default('GET'),
  headers: z.record(z.string(), text).default({}),
  body: z.string().optional(),
  basic_auth: z.strictObject({ username: text, password: secret.optional() }).optional(),
  bearer_token: secret.optional(),
  follow_redirects: z.boolean().default(true),
  max_redirects: z.number().int().nonnegative().default(10),
  tls_config: tlsConfig.optional(),
  /** Bodies are read up to this size; a larger body fails the probe. */
  body_size_limit: byteSize.default(10 * 1024 * 1024),
});

const tcpProbe = z.strictObject({
  ...common,
  type: z.literal('tcp'),
  /** Sent once connected (YAML escapes such as "\r\n" apply). */
  send: z.string().optional(),
  /** A regular expression the received data must match (searched, not anchored). */
  expect: z.string().optional(),
  tls: z.boolean().default(false),
  tls_config: tlsConfig.optional(),
  /** Received data is read up to this size. */
  body_size_limit: byteSize.default(64 * 1024),
});

const dnsProbe = z.strictObject({
  ...common,
  type: z.literal('dns'),
  query_type: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(['A', 'AAAA', 'CNAME', 'MX', 'TXT', 'NS']))
    .default('A'),
  /** host or host:port of the DNS server to ask; the system resolver when absent. */
  resolver: z.string().optional(),
});

const tlsProbe = z.strictObject({
  ...common,
  type: z.literal('tls'),
  tls_config: tlsConfig.optional(),
});

/**
 * The probe types, in one table: each type's schema, the placeholders its conditions can use and
 * how its target is checked. Adding a type is one entry here plus its ProbeType in
 * probe/registry.ts (which is keyed by these names, so the compiler asks for it).
 */
const PROBE_KINDS = {
  http: {
    schema: httpProbe,
    placeholders: new Set<Placeholder>(['STATUS', 'RESPONSE_TIME', 'BODY', 'JSON', 'HEADER', 'CERTIFICATE_EXPIRATION', 'BODY_SIZE', 'REDIRECTS']),
    checkTarget: (target: string): string | null => {
      // `example.com/health` or `localhost:8080` (which URL reads as scheme "localhost:").
      if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target) && /^[^\s/:]+(:\d+)?(\/\S*)?$/.test(target)) return `${JSON.stringify(target)} has no scheme (write "http://${target}" or "https://${target}")`;
      let u: URL;
      try {
        u = new URL(target);
      } catch {
        return `${JSON.stringify(target)} is not a URL (expected e.g. "https://example.com/health")`;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${JSON.stringify(target)}: scheme must be http or https`;
      return null;
    },
  },
  tcp: {
    schema: tcpProbe,
    placeholders: new Set<Placeholder>(['CONNECTED', 'RESPONSE_TIME', 'BODY', 'CERTIFICATE_EXPIRATION']),
    checkTarget: hostPortTarget,
  },
  dns: {
    schema: dnsProbe,
    placeholders: new Set<Placeholder>(['RESPONSE_TIME', 'DNS_RCODE', 'ANSWER', 'ANSWER_COUNT']),
    checkTarget: (target: string): string | null =>
      /^[A-Za-z0-9_.-]+\.?$/.test(target) && !target.includes('..') ? null : `${JSON.stringify(target)} is not a domain name`,
  },
  tls: {
    schema: tlsProbe,
    placeholders: new Set<Placeholder>(['CONNECTED', 'RESPONSE_TIME', 'CERTIFICATE_EXPIRATION']),
    checkTarget: hostPortTarget,
  },
} as const;

/** The target check of a probe type; null when the type is unknown (the schema reports it). */
export function checkProbeTarget(type: string, target: string): string | null {
  return Object.hasOwn(PROBE_KINDS, type) ? PROBE_KINDS[type as keyof typeof PROBE_KINDS].checkTarget(target) : null;
}

function hostPortTarget(target: string): string | null {
  return parseHostPort(target) ? null : `${JSON.stringify(target)} is not host:port (expected e.g. "db.internal:5432")`;
}

const TYPES = Object.keys(PROBE_KINDS);

export const probeConfig = z
  .discriminatedUnion('type', [PROBE_KINDS.http.schema, PROBE_KINDS.tcp.schema, PROBE_KINDS.dns.schema, PROBE_KINDS.tls.schema], {
    error: (iss) => {
      const v = (iss.input as { type?: unknown } | undefined)?.type;
      return v === undefined ? `missing probe type (one of ${TYPES.join(', ')})` : `${JSON.stringify(v)} is not a probe type (one of ${TYPES.join(', ')})`;
    },
  })
  .superRefine((p, ctx) => {
    const allowed = PROBE_KINDS[p.type].placeholders;
    p.conditions.forEach((c, i) => {
      const ph = placeholderOf(c);
      if (!allowed.has(ph)) {
        ctx.addIssue({ code: 'custom', message: `condition ${JSON.stringify(c.text)}: ${ph === 'JSON' ? 'a JSON path' : `[${ph}]`} is not available for ${p.type} probes`, path: ['conditions', i] });
      }
    });
    p.degrading_conditions.forEach((c, i) => {
      const ph = placeholderOf(c);
      if (!allowed.has(ph)) {
        ctx.addIssue({ code: 'custom', message: `degrading condition ${JSON.stringify(c.text)}: ${ph === 'JSON' ? 'a JSON path' : `[${ph}]`} is not available for ${p.type} probes`, path: ['degrading_conditions', i] });
      }
      if (p.conditions.some((k) => k.text === c.text)) {
        ctx.addIssue({ code: 'custom', message: `degrading condition ${JSON.stringify(c.text)} is also in conditions: a run failing it fails, so it can never only degrade`, path: ['degrading_conditions', i] });
      }
    });
    const targetError = PROBE_KINDS[p.type].checkTarget(p.target);
    if (targetError) ctx.addIssue({ code: 'custom', message: targetError, path: ['target'] });
    if (p.type === 'tcp' && p.expect !== undefined) {
      try {
        compileSearch(p.expect);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['expect'] });
      }
    }
    if (p.type === 'dns' && p.resolver !== undefined && parseHostPort(p.resolver, 53) === null) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p.resolver)} is not host or host:port`, path: ['resolver'] });
    }
    if (p.timeout !== undefined && p.timeout > p.interval) {
      ctx.addIssue({ code: 'custom', message: `timeout ${formatDuration(p.timeout)} is greater than interval ${formatDuration(p.interval)}`, path: ['timeout'] });
    }
    if (p.timeout !== undefined && p.timeout <= 0) ctx.addIssue({ code: 'custom', message: 'timeout must be greater than 0', path: ['timeout'] });
    if (p.interval <= 0) ctx.addIssue({ code: 'custom', message: 'interval must be greater than 0', path: ['interval'] });
  })
  .transform((p) => ({ ...p, timeout: p.timeout ?? Math.min(DEFAULT_PROBE_TIMEOUT, p.interval) }));

const DEFAULT_PROBE_TIMEOUT = 10_000;

export type ProbeConfig = z.output<typeof probeConfig>;
export type HttpProbeConfig = Extract<ProbeConfig, { type: 'http' }>;
export type TcpProbeConfig = Extract<ProbeConfig, { type: 'tcp' }>;
export type DnsProbeConfig = Extract<ProbeConfig, { type: 'dns' }>;
export type TlsProbeConfig = Extract<ProbeConfig, { type: 'tls' }>;

/** The probes; duplicate names are checked in semantic.ts, beside the schema errors. */
export const probesSection = z.array(probeConfig);
