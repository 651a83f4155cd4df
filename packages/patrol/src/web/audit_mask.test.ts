// The audit log's masking of request bodies (web/auth.ts maskForAudit). A remote-write body is
// a Buffer: enumerating it entry by entry held the event loop 30-60 s and 2-3 GB for a 12.6 MB
// body (the remote-write bomb of issue 11, seen in remote_write.limits.test.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskForAudit } from './auth.js';

describe('audit body masking', () => {
  it('records binary bodies by size, not byte by byte', () => {
    assert.equal(maskForAudit(Buffer.alloc(12_582_916)), '<12582916 bytes>');
    assert.equal(maskForAudit(new Uint8Array(3)), '<3 bytes>');
    assert.equal(maskForAudit(new ArrayBuffer(5)), '<5 bytes>');
    assert.deepEqual(maskForAudit({ body: Buffer.from('abc') }), { body: '<3 bytes>' });
  });

  it('keeps the first 100 keys, masks secret ones, cuts long strings', () => {
    const big: Record<string, string> = {};
    for (let i = 0; i < 1000; i++) big[`k${i}`] = 'v';
    const m = maskForAudit(big) as Record<string, unknown>;
    assert.equal(Object.keys(m).length, 100);
    assert.equal(m.k0, 'v');
    const s = maskForAudit({ password: 'hunter2', name: 'x'.repeat(2000) }) as Record<string, string>;
    assert.equal(s.password, '<secret>');
    assert.equal(s.name.length, 1001);
  });
});
