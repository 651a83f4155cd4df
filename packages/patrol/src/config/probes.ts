// The `probes:` section: Patrol's active inspections. Common keys (name, type, target, interval,
// timeout, labels, thresholds, conditions) plus the keys of each type; a key that does not belong
// to the probe's type is an error. Conditions are parsed here, so a bad one fails the load and
// the message quotes it.

import { z } from 'zod';
import { ConditionSyntaxError, parseCondition, parseJsonPath, placeholderOf, type Condition, type Placeholder } from '../model/conditions.js';
import { formatDuration } from '../model/duration.js';
import { parseHostPort } from '../model/hostport.js';
import { compileSearch } from '../model/regex.js';
import { locationName } from './agents.js';
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
  /** Run by the agents of these locations (agents.tokens), not by this Patrol. */
  locations: z.array(locationName).default([]),
  /** DOWN when this many locations see it DOWN: `2` or `"2 of 3"`; default a majority. */
  down_when: z.union([z.number().int().positive(), z.string()]).optional(),
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

const grpcProbe = z.strictObject({
  ...common,
  type: z.literal('grpc'),
  /** The service asked about in grpc.health.v1 HealthCheckRequest; "" is the server as a whole. */
  service: z.string().default(''),
  tls: z.boolean().default(false),
  tls_config: tlsConfig.optional(),
});

const websocketProbe = z.strictObject({
  ...common,
  type: z.literal('websocket'),
  headers: z.record(z.string(), text).default({}),
  /** A text message sent once connected. */
  send: z.string().optional(),
  /** A regular expression (RE2, searched) a received message must match. */
  expect: z.string().optional(),
  tls_config: tlsConfig.optional(),
  /** Largest message accepted. */
  body_size_limit: byteSize.default(64 * 1024),
});

const icmpProbe = z.strictObject({
  ...common,
  type: z.literal('icmp'),
  /** Echo requests sent per run (0.2 s apart). */
  count: z.number().int().min(1).max(100).default(3),
  /** The run fails when more than this percentage of the requests get no reply. */
  max_loss_percent: z.number().min(0).max(100).default(0),
  /** The ping program (iputils); found on PATH by default. */
  ping_command: z.string().min(1).default('ping'),
});

const httpMethod = z
  .string()
  .regex(/^[A-Za-z]+$/, 'is not an HTTP method')
  .transform((m) => m.toUpperCase())
  .default('GET');

const varName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'is not a variable name (letters, digits, _; not starting with a digit)');

/**
 * Where a flow step takes a variable from: `json: $.token` (the body as JSON), `header: Name`,
 * `regex: '…'` (group 1, or the whole match without groups) over the body, or over the header
 * with `header:`. `secret: true` masks the value in reasons like a configured secret.
 */
const flowCapture = z
  .strictObject({
    json: z.string().optional(),
    header: z.string().min(1).optional(),
    regex: z.string().optional(),
    secret: z.boolean().default(false),
  })
  .superRefine((c, ctx) => {
    if (c.json === undefined && c.header === undefined && c.regex === undefined) ctx.addIssue({ code: 'custom', message: 'needs json, header or regex' });
    if (c.json !== undefined && (c.header !== undefined || c.regex !== undefined)) ctx.addIssue({ code: 'custom', message: 'json cannot be combined with header or regex' });
    if (c.json !== undefined) {
      try {
        parseJsonPath(c.json);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['json'] });
      }
    }
    if (c.regex !== undefined) {
      try {
        compileSearch(c.regex);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['regex'] });
      }
    }
  });

/** One HTTP request of a flow; `url` is absolute or relative to the probe's target. */
const flowStep = z.strictObject({
  name: z.string().min(1),
  method: httpMethod,
  url: z.string().min(1),
  headers: z.record(z.string(), text).default({}),
  body: z.string().optional(),
  /** Default [STATUS] == 2xx. */
  conditions: conditionList.default([]),
  capture: z.record(varName, flowCapture).default({}),
});

const flowProbe = z.strictObject({
  ...common,
  type: z.literal('flow'),
  steps: z.array(flowStep).min(1, 'a flow needs at least one step'),
  /** Run after the steps whether they passed or not (log out, delete what the flow created). */
  cleanup: z.array(flowStep).default([]),
  /** Plain values for ${name}. */
  variables: z.record(varName, text).default({}),
  /** Secret values for ${name} (`${ENV}` expanded at load); masked in every reason. */
  secrets: z.record(varName, secret).default({}),
  /** Secret values read from files (relative to the configuration file, trailing newline dropped). */
  secret_files: z.record(varName, z.string().min(1)).default({}),
  follow_redirects: z.boolean().default(true),
  max_redirects: z.number().int().nonnegative().default(10),
  tls_config: tlsConfig.optional(),
  body_size_limit: byteSize.default(10 * 1024 * 1024),
});

/** `${name}` and `${env:NAME}` references in a flow template (`$${` is a literal `${`). */
export const FLOW_REF = /\$\$\{|\$\{(env:)?([A-Za-z_][A-Za-z0-9_]*)\}/g;

function checkFlow(p: z.output<typeof flowProbe>, ctx: z.RefinementCtx): void {
  const defined = new Set<string>([...Object.keys(p.variables), ...Object.keys(p.secrets), ...Object.keys(p.secret_files)]);
  const seen = new Set<string>();
  for (const k of [...Object.keys(p.variables), ...Object.keys(p.secrets), ...Object.keys(p.secret_files)]) {
    if (seen.has(k)) ctx.addIssue({ code: 'custom', message: `variable ${JSON.stringify(k)} is defined more than once (variables, secrets, secret_files)`, path: [] });
    seen.add(k);
  }
  const names = new Set<string>();
  const captured = new Set<string>();
  const allCaptured = new Set<string>(p.steps.flatMap((s) => Object.keys(s.capture)));
  const check = (list: typeof p.steps, key: 'steps' | 'cleanup') => {
    list.forEach((st, i) => {
      if (names.has(st.name)) ctx.addIssue({ code: 'custom', message: `step name ${JSON.stringify(st.name)} is used twice`, path: [key, i, 'name'] });
      names.add(st.name);
      const texts: [string, (string | number)[]][] = [[st.url, ['url']], ...Object.entries(st.headers).map(([h, v]): [string, (string | number)[]] => [v, ['headers', h]])];
      if (st.body !== undefined) texts.push([st.body, ['body']]);
      for (const [t, path] of texts) {
        for (const m of t.matchAll(FLOW_REF)) {
          if (m[0] === '$${' || m[1]) continue;
          const v = m[2];
          if (defined.has(v) || (key === 'steps' ? captured.has(v) : allCaptured.has(v))) continue;
          const later = allCaptured.has(v) ? ' (a later step captures it: steps run in order)' : '';
          ctx.addIssue({ code: 'custom', message: `step ${JSON.stringify(st.name)}: \${${v}} is never defined: no variables, secrets or secret_files entry and no earlier step captures it${later}`, path: [key, i, ...path] });
        }
      }
      st.conditions.forEach((c, j) => {
        const ph = placeholderOf(c);
        if (!PROBE_KINDS.http.placeholders.has(ph)) ctx.addIssue({ code: 'custom', message: `condition ${JSON.stringify(c.text)}: [${ph}] is not available for flow steps`, path: [key, i, 'conditions', j] });
      });
      if (key === 'cleanup' && Object.keys(st.capture).length > 0) ctx.addIssue({ code: 'custom', message: 'cleanup steps cannot capture', path: [key, i, 'capture'] });
      for (const v of Object.keys(st.capture)) {
        if (defined.has(v)) ctx.addIssue({ code: 'custom', message: `capture ${JSON.stringify(v)} would replace a configured variable`, path: [key, i, 'capture', v] });
        captured.add(v);
      }
    });
  };
  check(p.steps, 'steps');
  check(p.cleanup, 'cleanup');
}

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
  flow: {
    schema: flowProbe,
    // Flow-level conditions judge the whole flow; each step has its own.
    placeholders: new Set<Placeholder>(['RESPONSE_TIME']),
    checkTarget: (target: string): string | null => PROBE_KINDS.http.checkTarget(target),
  },
  grpc: {
    schema: grpcProbe,
    placeholders: new Set<Placeholder>(['CONNECTED', 'RESPONSE_TIME', 'CERTIFICATE_EXPIRATION']),
    checkTarget: hostPortTarget,
  },
  websocket: {
    schema: websocketProbe,
    placeholders: new Set<Placeholder>(['CONNECTED', 'RESPONSE_TIME', 'STATUS', 'BODY', 'JSON', 'HEADER', 'CERTIFICATE_EXPIRATION']),
    checkTarget: (target: string): string | null => {
      let u: URL;
      try {
        u = new URL(target);
      } catch {
        return `${JSON.stringify(target)} is not a URL (expected e.g. "wss://example.com/socket")`;
      }
      return u.protocol === 'ws:' || u.protocol === 'wss:' ? null : `${JSON.stringify(target)}: scheme must be ws or wss`;
    },
  },
  icmp: {
    schema: icmpProbe,
    // [RESPONSE_TIME] is the mean round-trip time of the replies.
    placeholders: new Set<Placeholder>(['RESPONSE_TIME']),
    checkTarget: (target: string): string | null => (/^[A-Za-z0-9_.:-]+$/.test(target) && !target.startsWith('-') ? null : `${JSON.stringify(target)} is not a host name or IP address`),
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
  .discriminatedUnion('type', [PROBE_KINDS.http.schema, PROBE_KINDS.tcp.schema, PROBE_KINDS.dns.schema, PROBE_KINDS.tls.schema, PROBE_KINDS.flow.schema, PROBE_KINDS.grpc.schema, PROBE_KINDS.websocket.schema, PROBE_KINDS.icmp.schema], {
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
    if ((p.type === 'tcp' || p.type === 'websocket') && p.expect !== undefined) {
      try {
        compileSearch(p.expect);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message, path: ['expect'] });
      }
    }
    if (p.type === 'flow') checkFlow(p, ctx);
    if (p.type === 'dns' && p.resolver !== undefined && parseHostPort(p.resolver, 53) === null) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p.resolver)} is not host or host:port`, path: ['resolver'] });
    }
    if (new Set(p.locations).size !== p.locations.length) ctx.addIssue({ code: 'custom', message: 'a location is listed twice', path: ['locations'] });
    if (p.down_when !== undefined) {
      const q = quorumOf(p.down_when, p.locations.length);
      if (typeof q === 'string') ctx.addIssue({ code: 'custom', message: q, path: ['down_when'] });
    }
    if (p.timeout !== undefined && p.timeout > p.interval) {
      ctx.addIssue({ code: 'custom', message: `timeout ${formatDuration(p.timeout)} is greater than interval ${formatDuration(p.interval)}`, path: ['timeout'] });
    }
    if (p.timeout !== undefined && p.timeout <= 0) ctx.addIssue({ code: 'custom', message: 'timeout must be greater than 0', path: ['timeout'] });
    if (p.interval <= 0) ctx.addIssue({ code: 'custom', message: 'interval must be greater than 0', path: ['interval'] });
  })
  .transform((p) => {
    // down_when exists only for probes run by agents (so `check config --show` reads back).
    const q = p.locations.length === 0 ? undefined : p.down_when === undefined ? Math.floor(p.locations.length / 2) + 1 : quorumOf(p.down_when, p.locations.length);
    return { ...p, timeout: p.timeout ?? Math.min(DEFAULT_PROBE_TIMEOUT, p.interval), down_when: typeof q === 'number' ? q : undefined };
  });

/** `2`, `"2"` or `"2 of 3"` → 2; or the error. `of M` must be the number of locations. */
function quorumOf(v: number | string, locations: number): number | string {
  if (locations === 0) return 'down_when needs locations';
  let n: number;
  if (typeof v === 'number') n = v;
  else {
    const m = /^\s*(\d+)\s*(?:of\s+(\d+)\s*)?$/.exec(v);
    if (!m) return `${JSON.stringify(v)} is not a quorum (expected e.g. 2 or "2 of 3")`;
    n = Number(m[1]);
    if (m[2] !== undefined && Number(m[2]) !== locations) return `"${v}": the probe lists ${locations} locations, not ${m[2]}`;
  }
  if (n < 1 || n > locations) return `down_when ${n} must be between 1 and the ${locations} locations listed`;
  return n;
}

const DEFAULT_PROBE_TIMEOUT = 10_000;

export type ProbeConfig = z.output<typeof probeConfig>;
export type HttpProbeConfig = Extract<ProbeConfig, { type: 'http' }>;
export type TcpProbeConfig = Extract<ProbeConfig, { type: 'tcp' }>;
export type DnsProbeConfig = Extract<ProbeConfig, { type: 'dns' }>;
export type TlsProbeConfig = Extract<ProbeConfig, { type: 'tls' }>;
export type GrpcProbeConfig = Extract<ProbeConfig, { type: 'grpc' }>;
export type WebsocketProbeConfig = Extract<ProbeConfig, { type: 'websocket' }>;
export type IcmpProbeConfig = Extract<ProbeConfig, { type: 'icmp' }>;
export type FlowProbeConfig = Extract<ProbeConfig, { type: 'flow' }>;
export type FlowStepConfig = FlowProbeConfig['steps'][number];

/** The probes; duplicate names are checked in semantic.ts, beside the schema errors. */
export const probesSection = z.array(probeConfig);
