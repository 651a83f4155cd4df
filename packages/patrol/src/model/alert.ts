// The alert as it travels from the rules to whoever takes alerts: Patrol's own dispatcher
// (in-process) and external Alertmanagers (over HTTP). Its shape is Alertmanager API v2's
// postable alert, so one value serves both paths and the API's POST /api/v2/alerts.

/** Alertmanager API v2 `postableAlert`; times are RFC 3339 strings, omitted when unset. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * Something that takes alerts. `send` must return at once and never throw: a sink that talks
 * to the network queues (bounded, counting drops) and delivers in the background.
 */
export interface AlertSink {
  readonly name: string;
  send(alerts: readonly PostableAlert[]): void;
}
