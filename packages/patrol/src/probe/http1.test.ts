import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseParser, type ResponseHead } from './http1.js';

function parse(raw: string, opts: { split?: number; isHead?: boolean; eof?: boolean } = {}) {
  const out: { head?: ResponseHead; body: string; ended: boolean; error?: string } = { body: '', ended: false };
  const p = new ResponseParser(
    {
      head: (h) => (out.head = h),
      data: (c) => (out.body += c.toString('latin1')),
      end: () => (out.ended = true),
      error: (m) => (out.error = m),
    },
    opts.isHead ?? false,
  );
  const buf = Buffer.from(raw, 'latin1');
  const step = opts.split ?? buf.length;
  for (let i = 0; i < buf.length; i += step) p.feed(buf.subarray(i, i + step));
  if (opts.eof) p.eof();
  return out;
}

describe('HTTP/1.1 response parser', () => {
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\n';
  it('chunked bodies, split at every byte', () => {
    for (const split of [1, 2, 3, 7, 1000]) {
      const r = parse(chunked, { split });
      assert.equal(r.error, undefined);
      assert.equal(r.body, 'hello, world', `split ${split}`);
      assert.equal(r.ended, true);
      assert.equal(r.head!.headers['x-a'], '1, 2');
      assert.deepEqual(r.head!.headers['set-cookie'], ['a', 'b']);
    }
  });
  it('content-length bodies end at the length', () => {
    const r = parse('HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabcEXTRA', { split: 2 });
    assert.equal(r.head!.status, 201);
    assert.equal(r.body, 'abc');
    assert.equal(r.ended, true);
  });
  it('close-delimited bodies end at EOF', () => {
    const r = parse('HTTP/1.0 200 OK\r\n\r\nuntil close', { eof: true });
    assert.equal(r.body, 'until close');
    assert.equal(r.ended, true);
    assert.equal(r.head!.httpVersion, '1.0');
  });
  it('skips 1xx, no body for HEAD, 204, 304', () => {
    const r = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.equal(r.head!.status, 200);
    assert.equal(r.body, 'ok');
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', { isHead: true }).ended, true);
    assert.equal(parse('HTTP/1.1 204 No Content\r\n\r\n').ended, true);
    assert.equal(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').ended, true);
  });
  it('malformed responses are errors', () => {
    assert.match(parse('SSH-2.0-OpenSSH\r\n\r\n').error!, /invalid HTTP response: status line "SSH-2\.0-OpenSSH"/);
    assert.match(parse('HTTP/1.1 200 OK\r\nbad header\r\n\r\n').error!, /header line "bad header"/);
    assert.match(parse('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n').error!, /content-length "-1"/);
    assert.match(parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n').error!, /chunk size "zz"/);
    assert.match(parse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', { eof: true }).error!, /connection closed before the body was complete/);
    assert.match(parse('', { eof: true }).error!, /connection closed before a response was received/);
    assert.match(parse('HTTP/1.1 200 OK\r\n' + 'x-pad: '.padEnd(70_000, 'a')).error!, /response headers exceed 64KiB/);
  });
});
