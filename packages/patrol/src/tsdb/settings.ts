// The `storage:` section's retention settings applied to an open TSDB, as a Component so that
// a configuration reload changes them without a restart. The data path is read at open only.

import type { Component } from '../component.js';
import type { Config } from '../config/schema.js';
import type { TSDB } from './tsdb.js';

export function storageSettingsComponent(db: TSDB): Component {
  return {
    name: 'storage',
    applyConfig(cfg: Config): void {
      db.setRetention({ retention: cfg.storage.retention, retentionSize: cfg.storage.retention_size, outOfOrderWindow: cfg.storage.out_of_order_time_window, maxFuture: cfg.storage.max_future });
    },
    stop(): void {},
  };
}
