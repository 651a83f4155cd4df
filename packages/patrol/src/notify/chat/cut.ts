// Cutting messages to a channel's byte limit: robots count UTF-8 bytes, so a cut never falls
// inside a character, and it falls on a line boundary where one is near.

/** UTF-8 bytes of `s`. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * The longest prefix of `s` of at most `max` UTF-8 bytes ending on a line boundary (or, when the
 * first line alone is too long, on a character boundary; a surrogate pair is never split).
 */
export function cutUtf8(s: string, max: number): string {
  if (utf8Bytes(s) <= max) return s;
  if (max <= 0) return '';
  const buf = Buffer.from(s, 'utf8');
  let end = max;
  // Back up over continuation bytes (10xxxxxx) to the start of a character.
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  const head = buf.subarray(0, end).toString('utf8');
  const nl = head.lastIndexOf('\n');
  return nl > 0 ? head.slice(0, nl) : head;
}

/**
 * A message made of a head, one block per alert and a tail, fitted into `max` bytes: whole
 * blocks are kept while they fit, and a note saying how many alerts were left out replaces the
 * rest. Without any block fitting, the head itself is cut.
 */
export function fitBlocks(head: string, blocks: readonly string[], tail: string, max: number, leftOut: (n: number) => string): { text: string; omitted: number } {
  const whole = head + blocks.join('') + tail;
  if (utf8Bytes(whole) <= max) return { text: whole, omitted: 0 };
  let used = utf8Bytes(head) + utf8Bytes(tail);
  let kept = 0;
  for (const b of blocks) {
    const note = leftOut(blocks.length - kept - 1);
    if (used + utf8Bytes(b) + utf8Bytes(note) > max) break;
    used += utf8Bytes(b);
    kept++;
  }
  const omitted = blocks.length - kept;
  const note = leftOut(omitted);
  const text = head + blocks.slice(0, kept).join('') + note + tail;
  if (utf8Bytes(text) <= max) return { text, omitted };
  // Not even the head fits: cut it, keep the note.
  return { text: cutUtf8(cutUtf8(head, Math.max(0, max - utf8Bytes(note))) + note, max), omitted };
}
