// The TSDB's metrics on the registry passed to openTSDB: counters the append path and the
// compactor update, and gauges read from the store when the registry is collected.

import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** What the gauges read; functions returning null leave the gauge as it is (store closed). */
export interface GaugeSource {
  headSeries(): number;
  chunks(): number | null;
  walBytes(): number;
  recentChunkBytes(): number;
  /** ms; Infinity when unlimited. */
  retention(): number;
  retentionBytes(): number;
  readOnly(): boolean;
  diskBytes(): number | null;
}

export interface TsdbMetrics {
  samples: Counter;
  outOfOrder: Counter;
  compaction: Histogram;
}

export function registerMetrics(registry: Registry | undefined, src: GaugeSource): TsdbMetrics {
  const registers = registry ? [registry] : [];
  const gauge = (name: string, help: string, read: () => number | null): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        const v = read();
        if (v !== null) this.set(v);
      },
    });
  };
  gauge('patrol_tsdb_head_series', 'Series in the head.', () => src.headSeries());
  const samples = new Counter({ name: 'patrol_tsdb_samples_appended_total', help: 'Samples committed.', registers });
  gauge('patrol_tsdb_chunks', 'Chunks persisted or waiting to be persisted.', () => src.chunks());
  gauge('patrol_tsdb_wal_size_bytes', 'Bytes in write-ahead log segments.', () => src.walBytes());
  const outOfOrder = new Counter({ name: 'patrol_tsdb_out_of_order_rejections_total', help: 'Samples rejected for being out of order.', registers });
  const compaction = new Histogram({
    name: 'patrol_tsdb_compaction_duration_seconds',
    help: 'Wall time of head compactions (persist chunks, retention, WAL truncation).',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers,
  });
  gauge('patrol_tsdb_recent_chunk_bytes', 'Memory taken by recent persisted chunks kept for fast reads (about).', () => src.recentChunkBytes());
  gauge('patrol_tsdb_retention_limit_seconds', 'How long samples are kept (storage.retention); 0 when unlimited.', () => {
    const r = src.retention();
    return Number.isFinite(r) ? r / 1000 : 0;
  });
  gauge('patrol_tsdb_retention_limit_bytes', 'The most bytes the store may use (storage.retention_size); 0 when unlimited.', () => src.retentionBytes());
  gauge(
    'patrol_tsdb_read_only',
    '1 when storage was opened read-only because the data directory had too little free space; new samples are refused until a restart with more room.',
    () => (src.readOnly() ? 1 : 0),
  );
  gauge('patrol_tsdb_disk_bytes', 'Bytes on disk: chunk database and WAL.', () => src.diskBytes());
  return { samples, outOfOrder, compaction };
}
