// Wiring: the only module that knows every component. It opens storage, builds the components,
// applies configuration to all of them through one list, serves HTTP, and shuts down in order.

import { mkdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Component, PreparedConfig, Runtime } from './component.js';
import { ConfigError, loadConfigFile, parseConfig, type LoadResult } from './config/load.js';
import type { Config } from './config/schema.js';
import { defaultConfigText } from './defaults.js';
import { registerConfigAPI } from './api/config_api.js';
import { backupName, writeBackup } from './storage/backup.js';
import { registerFederate } from './api/federate.js';
import { maskSecrets } from './config/secrets.js';
import { registerProbeAPI } from './api/probes.js';
import { EventHub, registerEventsAPI } from './api/events.js';
import { registerAgentAPI } from './api/agents.js';
import { registerStatusPages } from './api/statuspages.js';
import { registerPrometheusAPI } from './api/prometheus.js';
import { DEFAULT_SERIES_LIMITS, registerRemoteWrite } from './api/remote_write.js';
import { registerTargetsAPI } from './api/targets.js';
import { registerRulesAPI } from './api/rules.js';
import { registerRunbooks } from './api/runbooks.js';
import { registerAlertmanagerAPI } from './api/alertmanager.js';
import { AlertDispatcher } from './alerting/dispatcher.js';
import { SqliteSilenceStore } from './alerting/silences.js';
import { SqliteAlertingState } from './alerting/state_sqlite.js';
import { PatrolAlerting } from './alerting/escalation.js';
import { registerPatrolAlertsAPI } from './api/patrol_alerts.js';
import { parsePort, splitHostPort } from './model/hostport.js';
import { ProbeStateChanges } from './model/probestate.js';
import { compileAnchoredRegex } from './model/matchers.js';
import { registerProducerErrors } from './producer.js';
import { registerLogMetrics } from './logger.js';
import { auditHook, authHook, registerAuthAPI, type AuthDeps } from './web/auth.js';
import { registerOidc } from './web/oidc.js';
import { scopeReadHook, scopeWriteHook, type ScopeDeps } from './web/scope.js';
import { AuthStore } from './web/auth_store.js';
import { insecureListenReason, isLoopbackHost } from './web/exposure.js';
import { edgeHook, securityHeadersHook, type EdgeSettings } from './web/security.js';
import { truncate } from './web/truncate.js';
import { BodyBudget, bodyBoundsHook } from './web/bodies.js';
import { TlsFront, tlsComponent, tlsFiles, tlsSettings } from './web/tls.js';
import { registerCollectorsApi } from './api/collectors.js';
import { registerUi } from './web/ui.js';
import { formatStorageRetention } from './api/tsdbstatus.js';
import { formatDuration } from './model/duration.js';
import { CollectorsManager } from './collect/manager.js';
import { HostCollector } from './host/collector.js';
import { ProbeManager } from './probe/manager.js';
import { Engine } from './promql/engine.js';
import { exprToJSON, formatExpr } from './promql/format.js';
import { queryLimitsComponent } from './promql/limits.js';
import { parseExpr } from './promql/parser.js';
import { ScrapeManager } from './scrape/manager.js';
import { RulesManager } from './rules/manager.js';
import { Notifier, type NotifierOptions } from './notifier/notifier.js';
import { registerAlertmanagersAPI } from './api/notifier.js';
import type { AlertSink } from './model/alert.js';
import { storageSettingsComponent } from './tsdb/settings.js';
import { openTSDB, type TSDB } from './tsdb/tsdb.js';
import { BUILD_INFO } from './version.js';

/** Error texts quote the configuration file: bound how many and how long go to a response or a log line. */
function boundErrors(errors: string[]): string[] {
  return errors.slice(0, 50).map((e) => truncate(e, 1000));
}

export interface PatrolOptions {
  /** Config file; when absent the built-in self-monitoring default is used. */
  configFile?: string;
  dataDir: string;
  /** host:port; overrides server.listen in the config. */
  listen?: string;
  logger: Logger;
  /** PromQL lookback delta in milliseconds; overrides query.lookback_delta in the config. */
  lookbackDelta?: number;
  /** Components added after the built-in ones (tests, embedding). */
  extraComponents?: (rt: Runtime) => Component[];
  /** In-process receivers of every alert the rules send (tests, embedding); see Notifier.addSink. */
  alertSinks?: (rt: Runtime) => AlertSink[];
  /** Queue capacity and batch size per external Alertmanager (Prometheus's defaults when absent). */
  notifier?: NotifierOptions;
  /** The built dashboard's folder; default: the @patrol/ui package's dist (null: serve none). */
  uiDir?: string | null;
  /** How often server.tls's files are checked for changes, ms (default 5000). */
  tlsWatchIntervalMs?: number;
  /** Listen beyond loopback without authentication (the --insecure flag). */
  insecure?: boolean;
}

export interface ReloadOutcome {
  ok: boolean;
  errors: string[];
}

export const DEFAULT_LISTEN = '127.0.0.1:9310';

/** The address to listen on: `HOST:PORT`, `[V6]:PORT`, or `:PORT` for every interface. */
export function listenHostPort(listen: string): { host: string; port: number } {
  const hp = splitHostPort(listen);
  const port = hp && parsePort(hp.port);
  if (hp === null || port === null) throw new Error(`listen address ${JSON.stringify(listen)} is not HOST:PORT`);
  return { host: hp.host || '0.0.0.0', port };
}

export class Patrol {
  readonly registry = new Registry();
  readonly app: FastifyInstance;
  private storage: TSDB | null = null;
  private components: Component[] = [];
  private config: Config | null = null;
  /** The folder the running configuration's relative paths resolve against. */
  private configDir = '.';
  /** The rules component, whose loaded groups the config API reads. */
  private rulesManager: RulesManager | null = null;
  /** The file each probe and receiver of the running configuration came from (config_files). */
  private configOrigins: ReadonlyMap<string, string> = new Map();
  /** Outcome and time (ms) of the last reload attempt that succeeded, for /status/runtimeinfo. */
  private lastReloadOk = true;
  private lastConfigTime = 0;
  private ready = false;
  private stopping: Promise<void> | null = null;
  private reloadChain: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  private readonly reloadOk: Gauge;
  private readonly reloadTime: Gauge;
  private listenAddr: string;
  private prepared: (LoadResult & { ok: true }) | null = null;
  private runtime: Runtime | null = null;
  private engine: Engine | null = null;
  /** Every registered route (method and path pattern). */
  readonly routeList: { method: string; url: string }[] = [];
  /** The HTTPS listener when server.tls is set at start; otherwise fastify listens itself. */
  private tlsFront: TlsFront | null = null;
  private dispatcher: AlertDispatcher | null = null;
  private eventHub: EventHub | null = null;
  /** Tokens, sessions and the audit log (<data>/auth.db); opened by prepare(). */
  private authStore: AuthStore | null = null;

  constructor(private readonly opts: PatrolOptions) {
    this.log = opts.logger;
    this.listenAddr = opts.listen ?? DEFAULT_LISTEN;
    collectDefaultMetrics({ register: this.registry });
    registerProducerErrors(this.registry, this.log.child({ component: 'producer' }));
    registerLogMetrics(this.registry);
    new Gauge({
      name: 'patrol_build_info',
      help: 'A metric with a constant 1 value labelled by version, revision and Node.js version.',
      labelNames: ['version', 'revision', 'branch', 'nodeversion'],
      registers: [this.registry],
    }).set({ version: BUILD_INFO.version, revision: BUILD_INFO.revision, branch: BUILD_INFO.branch, nodeversion: process.versions.node }, 1);
    this.reloadOk = new Gauge({
      name: 'patrol_config_last_reload_successful',
      help: 'Whether the last configuration reload attempt was successful.',
      registers: [this.registry],
    });
    this.reloadTime = new Gauge({
      name: 'patrol_config_last_reload_success_timestamp_seconds',
      help: 'Timestamp of the last successful configuration reload.',
      registers: [this.registry],
    });
    this.app = Fastify({ logger: false, forceCloseConnections: true, return503OnClosing: true });
    // Every route, for tests that must cover all of them (auth and TLS on every endpoint).
    this.app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) this.routeList.push({ method, url: r.url });
    });
    // Authentication, CORS and the cross-site write guard, for every route, from the running config.
    this.app.addHook('onRequest', edgeHook(() => this.edgeSettings(), this.log.child({ component: 'web' })));
    // Users, tokens, sessions and the role each route needs (server.auth; web/roles.ts), then the audit log of writes.
    const authDeps: AuthDeps = { config: () => this.config?.server, store: () => this.authStore, secure: () => this.tlsFront !== null, log: this.log.child({ component: 'auth' }) };
    this.app.addHook('onRequest', authHook(authDeps));
    this.app.addHook('onResponse', auditHook(authDeps));
    registerAuthAPI(this.app, authDeps);
    registerOidc(this.app, authDeps);
    // Per-team scoping (web/scope.ts): writes checked before the handler, reads filtered on the way out.
    const scopeDeps: ScopeDeps = {
      label: () => this.config?.server.auth?.team_label ?? 'team',
      silence: (id) => this.dispatcher?.silences.get(id),
      alert: (fp) => this.dispatcher?.store.get(fp),
    };
    this.app.addHook('preHandler', scopeWriteHook(scopeDeps));
    this.app.addHook('onSend', scopeReadHook(scopeDeps));
    // CSP, frame-ancestors, nosniff on every response (the dashboard sets its own CSP).
    this.app.addHook('onSend', securityHeadersHook());
    // Request time and in-flight body bytes (server.request_timeout, server.max_inflight_body_bytes).
    this.app.addHook('preParsing', bodyBoundsHook(() => this.bodyBounds(), this.bodyBudget));
    this.routes();
  }

  /** Body bytes held by the requests in flight. */
  readonly bodyBudget = new BodyBudget();

  private bodyBounds(): { timeoutMs: number; budgetBytes: number } {
    const s = this.config?.server;
    return { timeoutMs: s?.request_timeout ?? 30_000, budgetBytes: s?.max_inflight_body_bytes ?? 128 * 1024 * 1024 };
  }

  /** Node's own request and header timeouts follow server.request_timeout (a backstop to the body timer). */
  private applyServerTimeouts(cfg: Config): void {
    const t = cfg.server.request_timeout;
    const server = this.app.server;
    server.requestTimeout = t;
    server.headersTimeout = t > 0 ? Math.min(t, 60_000) : 60_000;
  }

  private edgeCache: { server: Config['server'] | null; settings: EdgeSettings } = { server: null, settings: {} };

  private edgeSettings(): EdgeSettings {
    const server = this.config?.server ?? null;
    if (server !== this.edgeCache.server) {
      const cors = server?.cors_origin;
      // With server.auth, basic_auth_users are checked by the auth hook, on the routes the role table allows.
      this.edgeCache = { server, settings: { basicAuthUsers: server?.auth ? undefined : server?.basic_auth_users, corsOrigin: cors === undefined ? undefined : compileAnchoredRegex(cors) } };
    }
    return this.edgeCache.settings;
  }

  get listen(): string {
    return this.listenAddr;
  }

  get currentConfig(): Config | null {
    return this.config;
  }

  /** The dashboard's live event stream (GET /api/patrol/v1/events/stream). Set by prepare(). */
  get events(): EventHub | null {
    return this.eventHub;
  }

  /** The in-process alert dispatcher (`alerting:`), where Patrol's own rules send alerts. Set by prepare(). */
  get alertDispatcher(): AlertSink | null {
    return this.dispatcher;
  }

  private routes(): void {
    const app = this.app;
    app.get('/-/healthy', async (_req, reply) => reply.type('text/plain').send('Patrol is Healthy.\n'));
    app.get('/-/ready', async (_req, reply) => {
      if (this.ready) return reply.type('text/plain').send('Patrol is Ready.\n');
      return reply.code(503).type('text/plain').send('Service Unavailable\n');
    });
    const reload = async (_req: unknown, reply: import('fastify').FastifyReply) => {
      const r = await this.reload();
      if (r.ok) return reply.send({ status: 'success' });
      const errors = boundErrors(r.errors);
      return reply.code(500).send({ status: 'error', errorType: 'bad_config', error: truncate(errors.join('\n')), errors });
    };
    app.post('/-/reload', reload);
    app.put('/-/reload', reload);
    app.get('/metrics', async (_req, reply) => {
      const body = await this.registry.metrics();
      return reply.type(this.registry.contentType).send(body);
    });
    app.get('/api/patrol/v1/status/config', async (_req, reply) => {
      // Secrets masked as <secret>, the same way as /api/v1/status/config and check config --show.
      return reply.send({ status: 'success', data: this.config ? maskSecrets(this.config) : null });
    });
    registerConfigAPI(app, {
      configFile: this.opts.configFile,
      loaded: () => (this.config ? { config: this.config, origins: this.configOrigins, dir: this.configDir } : null),
      reload: () => this.reload(),
      ruleGroups: () => this.rulesManager?.loadedGroups() ?? [],
    });
    app.get('/api/patrol/v1/status/buildinfo', async (_req, reply) => reply.send({ status: 'success', data: BUILD_INFO }));
  }

  /** Opens storage, applies the first configuration and starts serving. Throws on a bad initial config. */
  /**
   * Validates the first configuration, opens storage and builds the components and their routes,
   * without listening or applying configuration (so the server is not ready yet). start() calls
   * it when it has not run.
   */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    const first = await this.loadConfig();
    if (!first.ok) {
      throw new StartupError(first.errors.map(String));
    }
    if (!this.opts.listen && first.config.server.listen) this.listenAddr = first.config.server.listen;
    const why = insecureListenReason(listenHostPort(this.listenAddr).host, first.config.server, this.opts.insecure === true);
    if (why) throw new StartupError([why]);
    if (this.opts.insecure && !isLoopbackHost(listenHostPort(this.listenAddr).host)) this.log.warn({ listen: this.listenAddr }, '--insecure: listening beyond loopback; Patrol itself does not authenticate callers');
    await mkdir(this.opts.dataDir, { recursive: true });
    this.authStore = new AuthStore(join(this.opts.dataDir, 'auth.db'));
    this.storage = await this.openStorage(first.config);
    const engine = (this.engine = new Engine({ lookbackDelta: this.opts.lookbackDelta }));
    const probeStateChanges = new ProbeStateChanges((err) => this.log.error({ err }, 'a probe state change subscriber failed'));
    this.runtime = { storage: this.storage, logger: this.log, registry: this.registry, listen: this.listenAddr, dataDir: this.opts.dataDir, engine, probeStateChanges };
    this.components = this.buildComponents(this.runtime);
    this.prepared = first;
  }

  /** Opens storage, applies the first configuration and starts serving. Throws on a bad initial config. */
  async start(): Promise<void> {
    await this.prepare();
    const first = this.prepared!;
    const rt = this.runtime!;
    const { host, port } = listenHostPort(this.listenAddr);

    const tls = first.config.server.tls;
    let addr;
    if (tls) {
      let settings;
      try {
        settings = tlsSettings(tls, first.dir);
      } catch (e) {
        throw new StartupError([(e as Error).message]);
      }
      await this.app.ready();
      this.tlsFront = new TlsFront(this.app.server, settings, this.log.child({ component: 'web' }));
      await this.tlsFront.listen(host, port);
      addr = this.tlsFront.server.address();
    } else {
      await this.app.listen({ host, port });
      addr = this.app.server.address();
    }
    if (addr && typeof addr === 'object' && port === 0) {
      // Port 0 (tests): record the port the OS chose so self-monitoring targets the right place.
      this.listenAddr = `${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
      rt.listen = this.listenAddr;
    }
    const applied = await this.apply(this.opts.configFile ? first : await this.loadConfig());
    if (!applied.ok) throw new StartupError(applied.errors);
    this.ready = true;
    this.log.info({ listen: this.listenAddr, tls: this.tlsFront !== null, dataDir: this.opts.dataDir, config: this.opts.configFile ?? '<built-in default>' }, 'Patrol is ready');
  }

  private async openStorage(cfg: Config): Promise<TSDB> {
    // Retention and the out-of-order window change on reload too (storageSettingsComponent).
    return openTSDB({
      dir: join(this.opts.dataDir, 'tsdb'),
      retention: cfg.storage.retention,
      retentionSize: cfg.storage.retention_size,
      outOfOrderWindow: cfg.storage.out_of_order_time_window,
      maxFuture: cfg.storage.max_future,
      registry: this.registry,
      logger: this.log.child({ component: 'tsdb' }),
    });
  }

  /**
   * The one list of components that take configuration, in data-flow order, and the HTTP APIs
   * over them. Routes are registered here because fastify takes routes only before listen.
   */
  private buildComponents(rt: Runtime): Component[] {
    const child = (component: string): Runtime => {
      const c = { ...rt, logger: this.log.child({ component }) };
      // listen is only known after start() with port 0: every component reads the shared value.
      Object.defineProperty(c, 'listen', { get: () => rt.listen, enumerable: true });
      return c;
    };
    const scrape = new ScrapeManager(child('scrape'));
    const host = new HostCollector(child('host'));
    const collectors = new CollectorsManager(child('collectors'));
    const probes = new ProbeManager(child('probes'));
    const engine = this.engine!;
    // The sender: rules hand their alerts to it; it forwards them to the external Alertmanagers of
    // alerting.alertmanagers and to every in-process AlertSink, Patrol's own dispatcher first.
    const notifier = new Notifier(child('notifier'), this.opts.notifier);
    const dispatcher = (this.dispatcher = new AlertDispatcher({
      logger: this.log.child({ component: 'alerting' }),
      registry: this.registry,
      defaultExternalURL: () => `http://${this.listenAddr}`,
      silenceStore: new SqliteSilenceStore(join(this.opts.dataDir, 'silences.db')),
      state: new SqliteAlertingState(join(this.opts.dataDir, 'alerting.db')),
      reloadStatus: () => ({ reloadOk: this.lastReloadOk, reloadTime: this.lastConfigTime }),
    }));
    notifier.addSink(dispatcher);
    // History, acknowledgement, escalation, digests and dependencies (alerting.patrol).
    const patrolAlerting = new PatrolAlerting({ dispatcher, dbPath: join(this.opts.dataDir, 'alerting.db'), logger: this.log.child({ component: 'alerting-patrol' }), registry: this.registry });
    for (const sink of this.opts.alertSinks?.(rt) ?? []) notifier.addSink(sink);
    const rules = new RulesManager(child('rules'), { notify: notifier.notifyFunc() });
    this.rulesManager = rules;

    registerPrometheusAPI(this.app, {
      queryable: rt.storage,
      engine,
      lookbackDelta: this.opts.lookbackDelta,
      parse: (q) => exprToJSON(parseExpr(q)),
      format: (q) => formatExpr(parseExpr(q)),
      metadata: () => scrape.metadata(),
      config: () => this.config,
      runtimeInfo: () => ({
        reloadConfigSuccess: this.lastReloadOk,
        lastConfigTime: this.lastConfigTime ? new Date(this.lastConfigTime).toISOString() : undefined,
        storageRetention: this.config ? formatStorageRetention(this.config.storage.retention, this.config.storage.retention_size, formatDuration) : '',
      }),
      tsdbStatus: () => this.storage,
      flags: { 'storage.tsdb.path': join(this.opts.dataDir, 'tsdb'), 'web.listen-address': this.listenAddr },
      admin: { enabled: () => this.config?.server.enable_admin_api === true, deleteSeries: (ms, start, end) => this.storage?.deleteSeriesInSlices(ms, start, end),
        snapshot: async (skipHead) => {
          // Named as Prometheus names them: UTC time and random hex, under <data>/snapshots.
          const name = `${new Date().toISOString().replace(/[-:]|\.\d+/g, '')}-${randomBytes(8).toString('hex')}`;
          await this.storage!.snapshot(join(this.opts.dataDir, 'snapshots', name), { skipHead });
          return name;
        },
      },
    });
    // Backup of all state while running (storage/backup.ts): one at a time, into <data>/backups.
    let backupRunning: Promise<unknown> = Promise.resolve();
    this.app.post('/api/patrol/v1/admin/backup', async (_req, reply) => {
      const name = backupName();
      const dest = join(this.opts.dataDir, 'backups', name);
      const run = backupRunning.then(async () => {
        await mkdir(join(this.opts.dataDir, 'backups'), { recursive: true });
        return writeBackup(this.opts.dataDir, dest, (dir) => this.storage!.snapshot(dir));
      });
      backupRunning = run.catch(() => undefined);
      try {
        const manifest = await run;
        this.log.info({ backup: dest, files: manifest.files.length }, 'backup written');
        return reply.send({ status: 'success', data: { name, path: resolve(dest), ...manifest } });
      } catch (e) {
        this.log.error({ err: e }, 'backup failed');
        return reply.code(500).send({ status: 'error', errorType: 'internal', error: `backup failed: ${(e as Error).message}` });
      }
    });
    registerRemoteWrite(this.app, rt.storage, this.log.child({ component: 'remote_write' }), {
      registry: this.registry,
      // server.remote_write_receiver, read per request so a reload changes the bounds.
      maxDecompressedBytes: () => this.config?.server.remote_write_receiver.max_decoded_bytes || Number.MAX_SAFE_INTEGER,
      seriesLimits: () => {
        const r = this.config?.server.remote_write_receiver;
        return r ? { labelLimit: r.label_limit, labelNameLengthLimit: r.label_name_length_limit, labelValueLengthLimit: r.label_value_length_limit } : DEFAULT_SERIES_LIMITS;
      },
    });
    registerTargetsAPI(this.app, scrape);
    registerRulesAPI(this.app, () => rules.ruleGroups());
    registerRunbooks(this.app);
    registerAlertmanagersAPI(this.app, () => notifier.alertmanagers());
    registerAlertmanagerAPI(this.app, { dispatcher, config: () => this.config });
    registerPatrolAlertsAPI(this.app, { dispatcher, patrol: patrolAlerting });
    registerFederate(this.app, { queryable: rt.storage, externalLabels: () => this.config?.global.external_labels ?? {}, lookbackDelta: () => engine.limits.lookbackDelta });
    registerProbeAPI(this.app, probes);
    const changes = rt.probeStateChanges!;
    registerEventsAPI(this.app, (this.eventHub = new EventHub({ onProbeChange: (fn) => changes.subscribe(fn), onAlert: (fn) => dispatcher.store.subscribe(fn), onAck: (fn) => patrolAlerting.onAck(fn), rows: (names) => probes.overviewOf(names) })));
    registerAgentAPI(this.app, probes);
    registerStatusPages(this.app, { config: () => this.config ?? null, probes });
    registerCollectorsApi(this.app, () => ({ host, collectors }));
    registerUi(this.app, this.opts.uiDir);
    // The query: section's limits, applied to the engine at start and on every reload.
    const extra = this.opts.extraComponents?.(rt) ?? [];
    return [tlsComponent(() => this.tlsFront), storageSettingsComponent(this.storage!), scrape, host, collectors, probes, queryLimitsComponent(engine, this.opts.lookbackDelta), notifier, rules, dispatcher, patrolAlerting, ...extra];
  }

  private async loadConfig(): Promise<LoadResult> {
    if (this.opts.configFile) return loadConfigFile(this.opts.configFile);
    const r = parseConfig(defaultConfigText(this.listenAddr), '<built-in default>');
    return r.ok ? { ...r, dir: resolve('.') } : r;
  }

  /** Re-reads the config file and applies it; a bad file leaves the running config in place. */
  reload(): Promise<ReloadOutcome> {
    const run = this.reloadChain.then(async () => this.apply(await this.loadConfig()));
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  private async apply(r: LoadResult): Promise<ReloadOutcome> {
    if (!r.ok) {
      const errors = r.errors.map((e: ConfigError) => e.toString());
      this.reloadOk.set(0);
      this.lastReloadOk = false;
      this.log.error({ errors: boundErrors(errors), file: r.file }, 'configuration rejected; keeping the running configuration');
      return { ok: false, errors };
    }
    for (const w of r.warnings) this.log.warn({ file: r.file }, w);
    const errors = await this.applyAll(r.config, r.dir);
    if (errors.length > 0) {
      this.reloadOk.set(0);
      this.lastReloadOk = false;
      this.log.error({ errors }, 'applying configuration failed; every component keeps the running configuration');
      return { ok: false, errors };
    }
    this.config = r.config;
    this.configDir = r.dir;
    this.configOrigins = r.origins;
    // Sessions of users removed or given another role end at once.
    if (r.config.server.auth) this.authStore?.pruneSessions(r.config.server.auth.users, r.config.server.auth.oidc !== undefined);
    const tls = r.config.server.tls;
    if (this.tlsFront && tls) {
      const dir = r.dir;
      this.tlsFront.watch(tlsFiles(tls, dir), () => (this.config?.server.tls === tls ? tlsSettings(tls, dir) : null), this.opts.tlsWatchIntervalMs ?? 5000);
    }
    this.applyServerTimeouts(r.config);
    this.lastReloadOk = true;
    this.lastConfigTime = Date.now();
    this.reloadOk.set(1);
    this.reloadTime.set(this.lastConfigTime / 1000);
    this.log.info({ file: r.file }, 'configuration applied');
    return { ok: true, errors: [] };
  }

  /**
   * All or nothing, in two phases: every component prepares the new configuration (validating it
   * and building what it needs) while the old one runs; if any prepare throws, every prepared one
   * is discarded. Then all commit. Components without prepareConfig commit through applyConfig;
   * if one of those throws, the ones already switched are put back on the running configuration.
   * Returns the errors, empty when the new configuration is in use everywhere.
   */
  private async applyAll(cfg: Config, dir: string): Promise<string[]> {
    const ctx = { dir };
    const errors: string[] = [];
    const prepared: { c: Component; p: PreparedConfig }[] = [];
    for (const c of this.components) {
      try {
        const p = c.prepareConfig ? await c.prepareConfig(cfg, ctx) : { commit: () => c.applyConfig(cfg, ctx), discard: () => undefined };
        prepared.push({ c, p });
      } catch (e) {
        errors.push(`${c.name}: ${(e as Error).message}`);
      }
    }
    if (errors.length > 0) {
      await this.discardAll(prepared);
      return errors;
    }
    const committed: Component[] = [];
    for (let i = 0; i < prepared.length; i++) {
      const { c, p } = prepared[i];
      try {
        await p.commit();
        committed.push(c);
      } catch (e) {
        errors.push(`${c.name}: ${(e as Error).message}`);
        await this.discardAll(prepared.slice(i + 1));
        await this.revert(committed, errors);
        break;
      }
    }
    return errors;
  }

  private async discardAll(prepared: { c: Component; p: PreparedConfig }[]): Promise<void> {
    for (const { c, p } of [...prepared].reverse()) {
      try {
        await p.discard();
      } catch (e) {
        this.log.error({ err: e, component: c.name }, 'discarding a prepared configuration failed');
      }
    }
  }

  /** Puts components that already switched back on the running configuration (none at start). */
  private async revert(committed: Component[], errors: string[]): Promise<void> {
    if (!this.config) return;
    for (const c of [...committed].reverse()) {
      try {
        await c.applyConfig(this.config, { dir: this.configDir });
      } catch (e) {
        errors.push(`${c.name}: returning to the running configuration failed: ${(e as Error).message}`);
      }
    }
  }

  /** Stops accepting requests, stops components, flushes and closes storage. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.ready = false;
      this.log.info('shutting down');
      await this.tlsFront?.close();
      await this.app.close();
      for (const c of [...this.components].reverse()) {
        try {
          await c.stop();
        } catch (e) {
          this.log.error({ err: e, component: c.name }, 'component failed to stop');
        }
      }
      await this.storage?.close();
      this.authStore?.close();
      this.log.info('shutdown complete');
    })();
    return this.stopping;
  }
}

export class StartupError extends Error {
  constructor(readonly errors: string[]) {
    super(`invalid configuration:\n${errors.join('\n')}`);
    this.name = 'StartupError';
  }
}
