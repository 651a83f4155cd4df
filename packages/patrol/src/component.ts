// What the server asks of every long-running part (probe scheduler, scrape manager, rules,
// notifier...): take a new configuration, and stop. Registered in one list in server.ts.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config/schema.js';
import type { ProbeStateChanges } from './model/probestate.js';
import type { QueryEngine } from './promql/types.js';
import type { Storage } from './storage/interface.js';

/** A configuration a component has checked and built, not yet in use. */
export interface PreparedConfig {
  /** Switches to the prepared configuration. */
  commit(): Promise<void> | void;
  /** Drops what was prepared; the component stays on its current configuration. */
  discard(): Promise<void> | void;
}

export interface Component {
  readonly name: string;
  /**
   * First phase of a reload: validates the configuration and builds what it needs without
   * changing what runs. Throwing rejects the whole reload: every component's prepared
   * configuration is discarded and all stay on the old one. Components without it are
   * committed through applyConfig.
   */
  prepareConfig?(cfg: Config, ctx: ConfigContext): Promise<PreparedConfig> | PreparedConfig;
  /**
   * Applies a validated configuration. Called once at start and on every reload, never
   * concurrently. Throwing marks the reload failed; the component must then keep running on its
   * previous configuration, and the server puts the components already switched back on the
   * previous configuration.
   */
  applyConfig(cfg: Config, ctx: ConfigContext): Promise<void> | void;
  /** Stops all work and releases resources; called once at shutdown, before storage closes. */
  stop(): Promise<void> | void;
}

export interface ConfigContext {
  /** The folder relative paths in the config (rule_files, file_sd_configs) resolve against. */
  dir: string;
}

/** What the wiring hands to each component's constructor. */
export interface Runtime {
  storage: Storage;
  logger: Logger;
  registry: Registry;
  /** host:port Patrol listens on, e.g. for self-monitoring. */
  listen: string;
  dataDir: string;
  /**
   * The PromQL engine (with the query: limits applied); components query it against `storage`.
   * The server always sets it; optional so runtimes built by tests for one component need none.
   */
  engine?: QueryEngine;
  /**
   * Probe state changes (up→down, down→up, with the reason), to subscribe to. The server always
   * sets it; the probe manager emits on it.
   */
  probeStateChanges?: ProbeStateChanges;
}
