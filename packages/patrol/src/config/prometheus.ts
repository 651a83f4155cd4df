// The sections Patrol shares with prometheus.yml: global, scrape_configs, rule_files,
// remote_write, remote_read, and Prometheus's own `alerting.alertmanagers`. Same keys, same
// meaning, same defaults, so a user's existing file validates unchanged.

import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { formatDuration } from '../model/duration.js';
import { byteSize, checkHttpClient, type HttpClientConfig, duration, httpClientFields, labelName, labelSet, positiveInt, regex, secret, text } from './fields.js';

export const RELABEL_ACTIONS = [
  'replace',
  'keep',
  'drop',
  'keepequal',
  'dropequal',
  'hashmod',
  'labelmap',
  'labeldrop',
  'labelkeep',
  'lowercase',
  'uppercase',
] as const;

export type RelabelAction = (typeof RELABEL_ACTIONS)[number];

const relabelAction = z
  .string()
  .transform((v) => v.toLowerCase())
  .pipe(z.enum(RELABEL_ACTIONS, { error: (iss) => `unknown relabel action ${JSON.stringify(iss.input)} (expected one of ${RELABEL_ACTIONS.join(', ')})` }));

export const relabelConfig = z
  .strictObject({
    source_labels: z.array(z.string()).default([]),
    separator: text.default(';'),
    regex: regex.default('(.*)'),
    modulus: positiveInt.optional(),
    target_label: z.string().optional(),
    replacement: text.default('$1'),
    action: relabelAction.default('replace'),
  })
  .superRefine((r, ctx) => {
    const needsTarget = ['replace', 'hashmod', 'lowercase', 'uppercase', 'keepequal', 'dropequal'];
    if (needsTarget.includes(r.action) && !r.target_label) {
      ctx.addIssue({ code: 'custom', message: `relabel action ${r.action} requires target_label`, path: ['target_label'] });
    }
    if (r.action === 'hashmod' && !r.modulus) {
      ctx.addIssue({ code: 'custom', message: 'relabel action hashmod requires a non-zero modulus', path: ['modulus'] });
    }
    if ((r.action === 'labeldrop' || r.action === 'labelkeep') && (r.source_labels.length > 0 || r.target_label)) {
      ctx.addIssue({ code: 'custom', message: `relabel action ${r.action} takes only regex`, path: ['action'] });
    }
  });

export type RelabelConfig = z.infer<typeof relabelConfig>;

const staticConfig = z.strictObject({
  targets: z.array(z.string()).default([]),
  labels: labelSet.default({}),
});

const fileSDConfig = z.strictObject({
  files: z.array(z.string()).min(1),
  refresh_interval: duration.default(5 * 60 * 1000),
});

/** Prometheus's http_sd_config: GET `url` every refresh_interval for a JSON list of target groups. */
export const httpSDConfig = z
  .strictObject({
    url: z.string(),
    refresh_interval: duration.default(60_000),
    ...httpClientFields,
  })
  .superRefine((c, ctx) => {
    let u: URL | null = null;
    try {
      u = new URL(c.url);
    } catch {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(c.url)} is not a URL`, path: ['url'] });
    }
    if (u && u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `URL scheme must be 'http' or 'https', got ${JSON.stringify(c.url)}`, path: ['url'] });
    else if (u && u.host === '') ctx.addIssue({ code: 'custom', message: `host is missing in URL ${JSON.stringify(c.url)}`, path: ['url'] });
    if (c.refresh_interval === 0) ctx.addIssue({ code: 'custom', message: 'refresh_interval must be greater than 0', path: ['refresh_interval'] });
    checkHttpClient(c, ctx);
  });

export type HttpSDConfig = z.infer<typeof httpSDConfig>;

export const DNS_SD_TYPES = ['SRV', 'A', 'AAAA', 'MX', 'NS'] as const;

/** Prometheus's dns_sd_config: SRV, A, AAAA, MX or NS lookups of `names` every refresh_interval. */
export const dnsSDConfig = z
  .strictObject({
    names: z.array(z.string().min(1)).min(1, { error: 'DNS-SD config must contain at least one name' }),
    type: z
      .string()
      .transform((v) => v.toUpperCase())
      .pipe(z.enum(DNS_SD_TYPES))
      .default('SRV'),
    port: z.number().int().min(0).max(65535).optional(),
    refresh_interval: duration.default(30_000),
  })
  .superRefine((c, ctx) => {
    if (c.type !== 'SRV' && !c.port) ctx.addIssue({ code: 'custom', message: 'a port is required in DNS-SD configs for all record types except SRV', path: ['port'] });
    if (c.refresh_interval === 0) ctx.addIssue({ code: 'custom', message: 'refresh_interval must be greater than 0', path: ['refresh_interval'] });
  });

export type DnsSDConfig = z.infer<typeof dnsSDConfig>;

/**
 * Service discovery mechanisms Patrol does not implement yet are accepted (so existing files
 * validate) and reported as warnings at load time.
 */
export const UNSUPPORTED_SD = [
  'azure_sd_configs',
  'consul_sd_configs',
  'digitalocean_sd_configs',
  'docker_sd_configs',
  'dockerswarm_sd_configs',
  'ec2_sd_configs',
  'eureka_sd_configs',
  'gce_sd_configs',
  'hetzner_sd_configs',
  'ionos_sd_configs',
  'kubernetes_sd_configs',
  'kuma_sd_configs',
  'lightsail_sd_configs',
  'linode_sd_configs',
  'marathon_sd_configs',
  'nerve_sd_configs',
  'nomad_sd_configs',
  'openstack_sd_configs',
  'ovhcloud_sd_configs',
  'puppetdb_sd_configs',
  'scaleway_sd_configs',
  'serverset_sd_configs',
  'triton_sd_configs',
  'uyuni_sd_configs',
  'vultr_sd_configs',
] as const;

const unsupportedSD = Object.fromEntries(UNSUPPORTED_SD.map((k) => [k, z.array(z.record(z.string(), z.unknown())).optional()]));

const scrapeProtocol = z.enum(['PrometheusProto', 'OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4']);

export const globalConfig = z.strictObject({
  scrape_interval: duration.default(60_000),
  scrape_timeout: duration.default(10_000),
  scrape_protocols: z.array(scrapeProtocol).optional(),
  evaluation_interval: duration.default(60_000),
  rule_query_offset: duration.default(0),
  external_labels: labelSet.default({}),
  query_log_file: z.string().optional(),
  scrape_failure_log_file: z.string().optional(),
  body_size_limit: byteSize.default(0),
  sample_limit: positiveInt.default(0),
  label_limit: positiveInt.default(0),
  label_name_length_limit: positiveInt.default(0),
  label_value_length_limit: positiveInt.default(0),
  target_limit: positiveInt.default(0),
  keep_dropped_targets: positiveInt.default(0),
  metric_name_validation_scheme: z.enum(['utf8', 'legacy']).optional(),
  metric_name_escaping_scheme: z.string().optional(),
  convert_classic_histograms_to_nhcb: z.boolean().optional(),
  always_scrape_classic_histograms: z.boolean().optional(),
});

export type GlobalConfig = z.infer<typeof globalConfig>;

/**
 * One scrape job. Interval, timeout and limits left out here take the global values; the loader
 * fills them in (see resolveScrapeDefaults), so consumers always see concrete numbers.
 */
export const scrapeConfig = z
  .strictObject({
    job_name: z.string().min(1),
    honor_labels: z.boolean().default(false),
    honor_timestamps: z.boolean().default(true),
    track_timestamps_staleness: z.boolean().default(false),
    scrape_interval: duration.optional(),
    scrape_timeout: duration.optional(),
    scrape_protocols: z.array(scrapeProtocol).optional(),
    fallback_scrape_protocol: scrapeProtocol.optional(),
    scrape_classic_histograms: z.boolean().optional(),
    always_scrape_classic_histograms: z.boolean().optional(),
    convert_classic_histograms_to_nhcb: z.boolean().optional(),
    enable_compression: z.boolean().default(true),
    metrics_path: z.string().default('/metrics'),
    scheme: z.enum(['http', 'https']).default('http'),
    params: z.record(z.string(), z.array(z.string())).default({}),
    body_size_limit: byteSize.optional(),
    sample_limit: positiveInt.optional(),
    label_limit: positiveInt.optional(),
    label_name_length_limit: positiveInt.optional(),
    label_value_length_limit: positiveInt.optional(),
    target_limit: positiveInt.optional(),
    keep_dropped_targets: positiveInt.optional(),
    native_histogram_bucket_limit: positiveInt.optional(),
    native_histogram_min_bucket_factor: z.number().optional(),
    metric_name_validation_scheme: z.enum(['utf8', 'legacy']).optional(),
    metric_name_escaping_scheme: z.string().optional(),
    static_configs: z.array(staticConfig).default([]),
    file_sd_configs: z.array(fileSDConfig).default([]),
    http_sd_configs: z.array(httpSDConfig).default([]),
    dns_sd_configs: z.array(dnsSDConfig).default([]),
    ...unsupportedSD,
    relabel_configs: z.array(relabelConfig).default([]),
    metric_relabel_configs: z.array(relabelConfig).default([]),
    ...httpClientFields,
  })
  .superRefine((c, ctx) => {
    if (c.scrape_interval !== undefined && c.scrape_timeout !== undefined && c.scrape_timeout > c.scrape_interval) {
      ctx.addIssue({ code: 'custom', message: `scrape_timeout ${formatDuration(c.scrape_timeout)} is greater than scrape_interval ${formatDuration(c.scrape_interval)}`, path: ['scrape_timeout'] });
    }
    checkHttpClient(c, ctx);
  });

export type ScrapeConfigInput = z.infer<typeof scrapeConfig>;

/** A scrape job with every inherited default filled in from `global`. */
export type ScrapeConfig = Omit<ScrapeConfigInput, 'scrape_interval' | 'scrape_timeout' | 'body_size_limit' | 'sample_limit' | 'label_limit' | 'label_name_length_limit' | 'label_value_length_limit' | 'target_limit' | 'keep_dropped_targets'> & {
  scrape_interval: number;
  scrape_timeout: number;
  body_size_limit: number;
  sample_limit: number;
  label_limit: number;
  label_name_length_limit: number;
  label_value_length_limit: number;
  target_limit: number;
  keep_dropped_targets: number;
};

export function resolveScrapeDefaults(c: ScrapeConfigInput, g: GlobalConfig): ScrapeConfig {
  const interval = c.scrape_interval ?? g.scrape_interval;
  return {
    ...c,
    scrape_interval: interval,
    // Prometheus: a job without a timeout takes the global one, capped at its own interval.
    scrape_timeout: c.scrape_timeout ?? Math.min(g.scrape_timeout, interval),
    body_size_limit: c.body_size_limit ?? g.body_size_limit,
    sample_limit: c.sample_limit ?? g.sample_limit,
    label_limit: c.label_limit ?? g.label_limit,
    label_name_length_limit: c.label_name_length_limit ?? g.label_name_length_limit,
    label_value_length_limit: c.label_value_length_limit ?? g.label_value_length_limit,
    target_limit: c.target_limit ?? g.target_limit,
    keep_dropped_targets: c.keep_dropped_targets ?? g.keep_dropped_targets,
  };
}

export const remoteWriteConfig = z.strictObject({
  url: z.string(),
  name: z.string().optional(),
  remote_timeout: duration.default(30_000),
  headers: z.record(z.string(), z.string()).default({}),
  write_relabel_configs: z.array(relabelConfig).default([]),
  protobuf_message: z.string().optional(),
  send_exemplars: z.boolean().default(false),
  send_native_histograms: z.boolean().default(false),
  round_robin_dns: z.boolean().optional(),
  queue_config: z.record(z.string(), z.unknown()).optional(),
  metadata_config: z.record(z.string(), z.unknown()).optional(),
  sigv4: z.record(z.string(), z.unknown()).optional(),
  azuread: z.record(z.string(), z.unknown()).optional(),
  google_iam: z.record(z.string(), z.unknown()).optional(),
  ...httpClientFields,
});

export const remoteReadConfig = z.strictObject({
  url: z.string(),
  name: z.string().optional(),
  remote_timeout: duration.default(60_000),
  headers: z.record(z.string(), z.string()).default({}),
  required_matchers: labelSet.optional(),
  read_recent: z.boolean().default(false),
  filter_external_labels: z.boolean().default(true),
  ...httpClientFields,
});

/** Prometheus's `alerting:` keys (where to send alerts), accepted beside Alertmanager's. */
export const alertmanagerTargetConfig = z.strictObject({
  scheme: z.enum(['http', 'https']).default('http'),
  path_prefix: z.string().default('/'),
  timeout: duration.default(10_000),
  api_version: z.enum(['v2']).default('v2'),
  static_configs: z.array(staticConfig).default([]),
  file_sd_configs: z.array(fileSDConfig).default([]),
  http_sd_configs: z.array(httpSDConfig).optional(),
  dns_sd_configs: z.array(dnsSDConfig).optional(),
  ...unsupportedSD,
  relabel_configs: z.array(relabelConfig).default([]),
  alert_relabel_configs: z.array(relabelConfig).default([]),
  ...httpClientFields,
});

export { labelName, secret };

function joinDir<T extends string | undefined>(dir: string, file: T): T {
  return (file === undefined || file === '' || isAbsolute(file) ? file : join(dir, file)) as T;
}

function tlsWithDir<T extends { ca_file?: string; cert_file?: string; key_file?: string } | undefined>(t: T, dir: string): T {
  return t && { ...t, ca_file: joinDir(dir, t.ca_file), cert_file: joinDir(dir, t.cert_file), key_file: joinDir(dir, t.key_file) };
}

function httpClientWithDir<T extends HttpClientConfig>(c: T, dir: string): T {
  return {
    ...c,
    basic_auth: c.basic_auth && { ...c.basic_auth, username_file: joinDir(dir, c.basic_auth.username_file), password_file: joinDir(dir, c.basic_auth.password_file) },
    authorization: c.authorization && { ...c.authorization, credentials_file: joinDir(dir, c.authorization.credentials_file) },
    oauth2: c.oauth2 && { ...c.oauth2, client_secret_file: joinDir(dir, c.oauth2.client_secret_file), tls_config: tlsWithDir(c.oauth2.tls_config, dir) },
    bearer_token_file: joinDir(dir, c.bearer_token_file),
    tls_config: tlsWithDir(c.tls_config, dir),
    http_headers: c.http_headers && Object.fromEntries(Object.entries(c.http_headers).map(([k, h]) => [k, { ...h, files: h.files.map((f) => joinDir(dir, f)) }])),
  };
}

/**
 * Prometheus's SetDirectory: relative file names in a scrape config (TLS files, credential
 * files, file_sd files) are taken relative to `dir`. Used for jobs from scrape_config_files,
 * which resolve against their own file's folder rather than the main config's.
 */
export function scrapeConfigWithDir(c: ScrapeConfig, dir: string): ScrapeConfig {
  return {
    ...httpClientWithDir(c, dir),
    file_sd_configs: c.file_sd_configs.map((f) => ({ ...f, files: f.files.map((p) => joinDir(dir, p)) })),
    http_sd_configs: c.http_sd_configs.map((h) => httpClientWithDir(h, dir)),
  };
}
