// A snappy block decoder (the format of remote write bodies: a varint uncompressed length, then
// literal and copy elements; see google/snappy format_description.txt) that checks the declared
// length against a bound before allocating anything and yields to the event loop while it
// works, so a small body that expands to the bound cannot stall other requests.

export class SnappyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnappyError';
  }
}

/** The uncompressed length a block declares; throws on a malformed or over-long varint. */
export function snappyDeclaredLength(input: Uint8Array): { length: number; headerBytes: number } {
  let length = 0;
  let shift = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= input.length) throw new SnappyError('truncated length header');
    const b = input[i];
    length += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { length, headerBytes: i + 1 };
    shift += 7;
  }
  throw new SnappyError('length header longer than 5 bytes');
}

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

/** Bounds on the work between two yields: output bytes and elements (literals and copies). */
const SLICE_BYTES = 1 << 20;
const SLICE_ELEMENTS = 1 << 15;
/** Literals and copies shorter than this are copied byte by byte (cheaper than a native call). */
const SHORT = 32;

/**
 * Decodes one snappy block. Throws SnappyError (before allocating) when the declared length
 * exceeds `maxLength`, and on any malformed element. Yields to the event loop after every
 * `sliceBytes` of output or SLICE_ELEMENTS elements, whichever comes first, so the work between
 * yields is bounded whatever the input (many tiny elements or long runs).
 */
export async function snappyUncompress(input: Uint8Array, maxLength: number, sliceBytes = SLICE_BYTES): Promise<Uint8Array> {
  const { length, headerBytes } = snappyDeclaredLength(input);
  if (length > maxLength) throw new SnappyError(`decoded size ${length} bytes exceeds the limit of ${maxLength} bytes (max_decoded_bytes)`);
  const out = new Uint8Array(length);
  let ip = headerBytes;
  let op = 0;
  let nextYield = sliceBytes;
  let elements = 0;
  const n = input.length;
  while (ip < n) {
    if (op >= nextYield || ++elements >= SLICE_ELEMENTS) {
      nextYield = op + sliceBytes;
      elements = 0;
      await yieldNow();
    }
    const tag = input[ip++];
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const extra = len - 59;
        if (ip + extra > n) throw new SnappyError(`truncated literal length at offset ${ip}`);
        len = 0;
        for (let i = 0; i < extra; i++) len += input[ip + i] * 2 ** (8 * i);
        ip += extra;
      }
      len += 1;
      if (ip + len > n) throw new SnappyError(`literal of ${len} bytes at offset ${ip} overruns the input`);
      if (op + len > length) throw new SnappyError('output exceeds the declared length');
      if (len < SHORT) for (let i = 0; i < len; i++) out[op + i] = input[ip + i];
      else out.set(input.subarray(ip, ip + len), op);
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (ip >= n) throw new SnappyError('truncated copy element');
      len = 4 + ((tag >>> 2) & 7);
      offset = ((tag >>> 5) << 8) | input[ip++];
    } else if (kind === 2) {
      if (ip + 2 > n) throw new SnappyError('truncated copy element');
      len = (tag >>> 2) + 1;
      offset = input[ip] | (input[ip + 1] << 8);
      ip += 2;
    } else {
      if (ip + 4 > n) throw new SnappyError('truncated copy element');
      len = (tag >>> 2) + 1;
      offset = (input[ip] | (input[ip + 1] << 8) | (input[ip + 2] << 16)) + input[ip + 3] * 2 ** 24;
      ip += 4;
    }
    if (offset === 0 || offset > op) throw new SnappyError(`copy offset ${offset} at output position ${op} is out of range`);
    if (op + len > length) throw new SnappyError('output exceeds the declared length');
    if (offset >= len && len >= SHORT) {
      out.copyWithin(op, op - offset, op - offset + len);
      op += len;
    } else {
      // Short or overlapping (a run repeating the last `offset` bytes): byte by byte, in order.
      for (const end = op + len; op < end; op++) out[op] = out[op - offset];
    }
  }
  if (op !== length) throw new SnappyError(`decoded ${op} bytes, but the block declares ${length}`);
  return out;
}
