import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Matcher } from '../model/matchers.js';
import { Postings } from './postings.js';

describe('postings candidates', () => {
  it('intersects the postings of every matcher that does not match the empty string', () => {
    const p = new Postings();
    // 1,000 series: name n<ref % 10>, job j<ref % 7>.
    for (let ref = 1; ref <= 1000; ref++) {
      p.add(ref, '__name__', `n${ref % 10}`);
      p.add(ref, 'job', `j${ref % 7}`);
    }
    const expect = (pred: (r: number) => boolean) => Array.from({ length: 1000 }, (_, i) => i + 1).filter(pred);
    const eq = (n: string, v: string) => new Matcher('=', n, v);
    assert.deepEqual(p.candidates([eq('__name__', 'n3'), eq('job', 'j2')]), expect((r) => r % 10 === 3 && r % 7 === 2));
    assert.deepEqual(p.candidates([eq('job', 'j2'), new Matcher('=~', '__name__', 'n[13]')]), expect((r) => (r % 10 === 1 || r % 10 === 3) && r % 7 === 2));
    assert.deepEqual(p.candidates([eq('__name__', 'n3'), new Matcher('!=', 'job', '')]), expect((r) => r % 10 === 3));
    assert.deepEqual(p.candidates([eq('__name__', 'n3'), eq('job', 'nope')]), []);
    assert.equal(p.candidates([new Matcher('!=', 'job', 'x')]), null);
    // Sparse against dense, where the galloping search skips far ahead.
    const q = new Postings();
    for (let ref = 1; ref <= 5000; ref++) q.add(ref, 'a', 'x');
    for (const ref of [7, 2500, 4999, 5000, 6000]) q.add(ref, 'b', 'y');
    assert.deepEqual(q.candidates([eq('a', 'x'), eq('b', 'y')]), [7, 2500, 4999, 5000]);
  });
});
