// What the server asks of every long-running part (probe scheduler, scrape manager, rules,
// notifier...): take a new configuration, and stop. Registered in one list in server.ts.

import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from './config/schema.js';
import type { Storage } from './storage/interface.js';

export interface Component {
  readonly name: string;
  /**
   * Applies a validated configuration. Called once at start and on every reload, never
   * concurrently. Throwing marks the reload failed; the component must then keep running on its
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
}
