// Encoding side of remote write 1.0 for tests and benchmarks (protobufjs and snappyjs are not
// used by the receiver, which decodes by hand in remote_write.ts and snappy.ts).

import { createRequire } from 'node:module';
import protobuf from 'protobufjs';

interface Snappy {
  uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  compress(uncompressed: Uint8Array): Uint8Array;
}
// snappyjs is CommonJS without type declarations.
export const snappy = createRequire(import.meta.url)('snappyjs') as Snappy;

/** The remote write 1.0 messages (prompb/remote.proto and types.proto). */
export const remoteWriteProto = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: {
          fields: {
            timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 },
            metadata: { rule: 'repeated', type: 'MetricMetadata', id: 3 },
          },
        },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
            exemplars: { rule: 'repeated', type: 'Exemplar', id: 3 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
        Exemplar: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            value: { type: 'double', id: 2 },
            timestamp: { type: 'int64', id: 3 },
          },
        },
        MetricMetadata: {
          fields: {
            type: { type: 'int32', id: 1 },
            metric_family_name: { type: 'string', id: 2 },
            help: { type: 'string', id: 4 },
            unit: { type: 'string', id: 5 },
          },
        },
      },
    },
  },
});
export const WriteRequestType = remoteWriteProto.lookupType('prometheus.WriteRequest');
