import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TurnPacer } from './pacer.js';

const nextTurn = () => new Promise<void>((r) => setImmediate(r));

describe('TurnPacer', () => {
  it('lets a few callers through per turn of the event loop, in order', async () => {
    const pacer = new TurnPacer(4);
    const started: number[] = [];
    const all = Array.from({ length: 10 }, (_, i) => pacer.turn().then(() => started.push(i)));
    await Promise.resolve();
    assert.deepEqual(started, [0, 1, 2, 3], 'four in the first turn');
    assert.equal(pacer.pending, 6);
    await nextTurn();
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7], 'four more in the next');
    await Promise.all(all);
    assert.deepEqual(started, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // A later burst starts afresh.
    await nextTurn();
    await nextTurn();
    const later: number[] = [];
    const more = Array.from({ length: 5 }, (_, i) => pacer.turn().then(() => later.push(i)));
    await Promise.resolve();
    assert.deepEqual(later, [0, 1, 2, 3]);
    await Promise.all(more);
  });

  it('never limits how many run at once: callers still at work do not hold back the next', async () => {
    const pacer = new TurnPacer(2);
    let passed = 0;
    const work: Promise<void>[] = [];
    for (let i = 0; i < 6; i++) {
      void pacer.turn().then(() => {
        passed++;
        work.push(new Promise(() => {})); // a send that never finishes
      });
    }
    for (let t = 0; t < 4; t++) await nextTurn();
    assert.equal(passed, 6, 'all six started within three turns although none finished');
    assert.equal(work.length, 6);
    assert.equal(pacer.pending, 0);
  });
});
