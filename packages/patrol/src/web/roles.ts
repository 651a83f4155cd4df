// The one table that decides which role each route needs. Reads (GET, HEAD, OPTIONS and the
// query API's POSTs) need the row's `read` role, every other method its `write` role. A route
// missing from the table needs viewer to read and admin to write, so a new write endpoint is
// closed until it is given a row. The README's role table is generated from this one
// (`roleTableMarkdown`, checked by roles.test.ts).

import { isReadRequest } from './security.js';

export const ROLES = ['viewer', 'operator', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];
/** `public`: no credentials at all. */
export type Need = Role | 'public';

export interface RouteRule {
  /** fastify's route pattern. */
  url: string;
  read: Need;
  write: Need;
  /** Prometheus web.config users (server.basic_auth_users, bcrypt) may call it too. */
  prometheus?: boolean;
  what: string;
}

const UI_PAGES = ['/', '/probes/*', '/alerts', '/silences', '/silences/*', '/rules', '/targets', '/history', '/explore', '/hosts', '/audit', '/login', '/assets/*', '/favicon.svg'];
const PROM_READS = ['/api/v1/query', '/api/v1/query_range', '/api/v1/series', '/api/v1/labels', '/api/v1/label/:name/values', '/api/v1/query_exemplars', '/api/v1/metadata', '/api/v1/format_query', '/api/v1/parse_query'];
const STATUS = ['/api/v1/status/buildinfo', '/api/v1/status/flags', '/api/v1/status/config', '/api/v1/status/tsdb', '/api/v1/status/runtimeinfo'];

export const ROUTE_ROLES: readonly RouteRule[] = [
  { url: '/-/healthy', read: 'public', write: 'admin', what: 'liveness (health checks)' },
  { url: '/-/ready', read: 'public', write: 'admin', what: 'readiness' },
  ...UI_PAGES.map((url): RouteRule => ({ url, read: 'public', write: 'admin', what: 'dashboard page and assets (data comes from the API)' })),
  { url: '/api/patrol/v1/ack/:fingerprint', read: 'public', write: 'public', what: 'acknowledge through a signed link (the signature authorises)' },
  { url: '/api/patrol/v1/auth/login', read: 'public', write: 'public', what: 'log in (rate limited)' },
  { url: '/api/patrol/v1/auth/methods', read: 'public', write: 'admin', what: 'how to log in (password, OIDC), for the login page' },
  { url: '/api/patrol/v1/auth/oidc/login', read: 'public', write: 'admin', what: 'start an OIDC login (redirects to the provider)' },
  { url: '/api/patrol/v1/auth/oidc/callback', read: 'public', write: 'admin', what: "the OIDC provider's redirect back (state, PKCE, nonce and the ID token's signature authorise)" },
  { url: '/api/patrol/v1/auth/logout', read: 'viewer', write: 'viewer', what: 'log out' },
  { url: '/api/patrol/v1/auth/whoami', read: 'viewer', write: 'admin', what: 'the caller and its role' },
  { url: '/api/patrol/v1/auth/tokens', read: 'admin', write: 'admin', what: 'list and create API tokens' },
  { url: '/api/patrol/v1/auth/tokens/:id', read: 'admin', write: 'admin', what: 'revoke an API token' },
  { url: '/api/patrol/v1/audit', read: 'admin', write: 'admin', what: 'the audit log' },
  { url: '/metrics', read: 'viewer', write: 'admin', prometheus: true, what: "Patrol's own metrics" },
  { url: '/federate', read: 'viewer', write: 'admin', prometheus: true, what: 'federation' },
  { url: '/api/v1/write', read: 'operator', write: 'operator', prometheus: true, what: 'remote write receiver' },
  { url: '/-/reload', read: 'admin', write: 'admin', what: 'reload the configuration' },
  ...PROM_READS.map((url): RouteRule => ({ url, read: 'viewer', write: 'admin', what: 'PromQL and series API (POST reads too)' })),
  ...STATUS.map((url): RouteRule => ({ url, read: 'viewer', write: 'admin', what: 'status (secrets masked)' })),
  { url: '/api/patrol/v1/admin/backup', read: 'admin', write: 'admin', what: 'back up all state into <data>/backups (`patrol backup`)' },
  { url: '/api/v1/admin/tsdb/delete_series', read: 'admin', write: 'admin', what: 'TSDB admin: delete series' },
  { url: '/api/v1/admin/tsdb/snapshot', read: 'admin', write: 'admin', what: 'TSDB admin: snapshot' },
  { url: '/api/v1/admin/tsdb/clean_tombstones', read: 'admin', write: 'admin', what: 'TSDB admin: clean tombstones' },
  { url: '/api/v2/alerts', read: 'viewer', write: 'operator', what: 'Alertmanager API: list and post alerts' },
  { url: '/api/v2/silences', read: 'viewer', write: 'operator', what: 'Alertmanager API: list and create silences' },
  { url: '/api/v2/silence/:id', read: 'viewer', write: 'operator', what: 'Alertmanager API: get and expire a silence' },
  { url: '/api/patrol/v1/alerts/:fingerprint/ack', read: 'viewer', write: 'operator', what: 'acknowledge / un-acknowledge an alert' },
  { url: '/api/patrol/v1/events/stream', read: 'viewer', write: 'admin', what: "the dashboard's live updates (server-sent events: probe state and alert changes)" },
  { url: '/api/patrol/v1/probes/:name/run', read: 'viewer', write: 'operator', what: 'run a probe now' },
  { url: '/api/patrol/v1/status/config', read: 'viewer', write: 'admin', what: 'running configuration (secrets masked)' },
  { url: '/api/patrol/v1/agent/probes', read: 'public', write: 'admin', what: "a location's probes for its `patrol agent` (the location's token in agents.tokens authorises)" },
  { url: '/api/patrol/v1/agent/results', read: 'public', write: 'public', what: "results and heartbeats from a location's `patrol agent` (the location's token authorises)" },
  { url: '/api/patrol/v1/config/probes', read: 'viewer', write: 'editor', what: 'list and create probes (written to config_api.dir)' },
  { url: '/api/patrol/v1/config/probes/:name', read: 'viewer', write: 'editor', what: 'read, replace and delete a probe' },
  { url: '/api/patrol/v1/config/receivers', read: 'viewer', write: 'editor', what: 'list and create receivers (secrets masked on read)' },
  { url: '/api/patrol/v1/config/receivers/:name', read: 'viewer', write: 'editor', what: 'read, replace and delete a receiver' },
  { url: '/api/patrol/v1/config/status_pages', read: 'viewer', write: 'editor', what: 'list and create public status pages (written to config_api.dir/status_pages.yml)' },
  { url: '/api/patrol/v1/config/status_pages/:name', read: 'viewer', write: 'editor', what: 'read, replace and delete a status page (by slug)' },
  { url: '/api/patrol/v1/config/routes', read: 'viewer', write: 'editor', what: "list and create named child routes of alerting.route (written to config_api.dir/routes.yml, after patrol.yml's)" },
  { url: '/api/patrol/v1/config/routes/:name', read: 'viewer', write: 'editor', what: 'read, replace and delete a named child route' },
  { url: '/api/patrol/v1/config/users', read: 'admin', write: 'admin', what: 'list and create local users (server.auth.users, written to config_api.dir/users.yml; hashes masked)' },
  { url: '/api/patrol/v1/config/users/:name', read: 'admin', write: 'admin', what: 'read, replace and delete a local user (a `password` is stored as its scrypt hash)' },
  { url: '/api/patrol/v1/config/rule_groups', read: 'viewer', write: 'editor', what: 'list and create rule groups (written to config_api.dir/rules/groups.yml)' },
  { url: '/api/patrol/v1/config/rule_groups/:name', read: 'viewer', write: 'editor', what: 'read, replace and delete a rule group' },
  { url: '/api/patrol/v1/agents', read: 'viewer', write: 'admin', what: 'locations of the agents and whether each reports' },
  { url: '/api/patrol/v1/status-pages/:slug', read: 'public', write: 'admin', what: 'a public status page\'s data (status_pages: only the listed probes\' names, states, daily uptime, state changes)' },
  { url: '/status/:slug', read: 'public', write: 'admin', what: 'a public status page (status_pages:)' },
  { url: '/status-assets/:file', read: 'public', write: 'admin', what: "the public status pages' script and style sheet" },
];

const BY_URL = new Map(ROUTE_ROLES.map((r) => [r.url, r]));
const DEFAULT_RULE: RouteRule = { url: '*', read: 'viewer', write: 'admin', what: 'any other route' };

export function ruleFor(routeUrl: string | undefined): RouteRule {
  return (routeUrl !== undefined && BY_URL.get(routeUrl)) || DEFAULT_RULE;
}

/** The role a request needs: by its route pattern (fastify's) and whether it only reads. */
export function requiredRole(method: string, routeUrl: string | undefined, url: string): { need: Need; rule: RouteRule } {
  const rule = ruleFor(routeUrl);
  return { need: isReadRequest(method, url) ? rule.read : rule.write, rule };
}

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/** The README's table, one row per route pattern. */
export function roleTableMarkdown(): string {
  const rows = ROUTE_ROLES.map((r) => `| \`${r.url}\` | ${r.read} | ${r.write}${r.prometheus ? ' (or a `basic_auth_users` user)' : ''} | ${r.what} |`);
  return ['| Route | Read needs | Write needs | What |', '|---|---|---|---|', ...rows, '| any other route | viewer | admin | closed to writes until given a row |'].join('\n');
}
