// The probe types Patrol knows, by the `type:` key of a probe. Adding a type is one entry here
// plus its schema in config/probes.ts.

import type { ProbeConfig } from '../config/probes.js';
import { dnsProbeType } from './dns.js';
import { flowProbeType } from './flow.js';
import { grpcProbeType } from './grpc.js';
import { icmpProbeType } from './icmp.js';
import { httpProbeType } from './http.js';
import { tcpProbeType } from './tcp.js';
import { tlsProbeType } from './tls.js';
import { websocketProbeType } from './websocket.js';
import type { ProbeType } from './types.js';

export const PROBE_TYPES: { [K in ProbeConfig['type']]: ProbeType<Extract<ProbeConfig, { type: K }>> } = {
  http: httpProbeType,
  tcp: tcpProbeType,
  dns: dnsProbeType,
  tls: tlsProbeType,
  flow: flowProbeType,
  grpc: grpcProbeType,
  websocket: websocketProbeType,
  icmp: icmpProbeType,
};

export function probeTypeOf(cfg: ProbeConfig): ProbeType {
  return PROBE_TYPES[cfg.type] as unknown as ProbeType;
}
