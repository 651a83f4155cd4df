import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { broadSilenceWarning, SilenceError, Silences, silenceState, SqliteSilenceStore } from './silences.js';

const m = (name: string, value: string, isRegex = false, isEqual = true) => ({ name, value, isRegex, isEqual });
const base = { createdBy: 'me', comment: 'c' };

function throwsStatus(fn: () => unknown, status: number, msg: RegExp): void {
  assert.throws(fn, (e: unknown) => e instanceof SilenceError && e.status === status && msg.test(e.message));
}

describe('silences', () => {
  it('silence alerts by matchers while active; pending and expired ones do not', () => {
    let now = 1_000_000;
    const s = new Silences(undefined, 1000, () => now);
    const active = s.set({ ...base, matchers: [m('team', 'db'), m('env', 'p.*', true), m('x', 'y', false, false)], startsAt: now - 10, endsAt: now + 1000 });
    const pending = s.set({ ...base, matchers: [m('team', 'web')], startsAt: now + 500, endsAt: now + 1000 });
    assert.deepEqual(s.silencedBy({ labels: { team: 'db', env: 'prod' } }), [active]);
    assert.deepEqual(s.silencedBy({ labels: { team: 'db', env: 'prod', x: 'y' } }), []);
    assert.deepEqual(s.silencedBy({ labels: { team: 'db', env: 'dev' } }), []);
    assert.deepEqual(s.silencedBy({ labels: { team: 'web' } }), []);
    assert.equal(silenceState(s.get(pending)!, now), 'pending');
    now += 600;
    assert.deepEqual(s.silencedBy({ labels: { team: 'web' } }), [pending]);
    now += 1000;
    assert.deepEqual(s.counts(), { active: 0, pending: 0, expired: 2 });
    // Kept for the retention after their end, then dropped.
    assert.equal(s.gc(), 0);
    now += 1000;
    assert.equal(s.gc(), 2);
    assert.equal(s.list().length, 0);
  });

  it('validates as Alertmanager does', () => {
    const s = new Silences();
    const now = Date.now();
    const t = { startsAt: now, endsAt: now + 1000 };
    throwsStatus(() => s.set({ ...base, ...t, matchers: [] }), 400, /at least one matcher required/);
    throwsStatus(() => s.set({ ...base, ...t, matchers: [m('a', '(', true)] }), 400, /^silence invalid: invalid label matcher 0: invalid regular expression "\("/);
    throwsStatus(() => s.set({ ...base, ...t, matchers: [m('a-b', 'x')] }), 400, /^silence invalid: invalid label matcher 0: invalid label name "a-b"$/);
    // Alertmanager's 400 for matchers that all match "": allowed here, with a warning.
    assert.ok(s.set({ ...base, ...t, matchers: [m('a', '.*', true)] }));
    assert.match(broadSilenceWarning([m('a', '.*', true), m('b', 'x', false, false)])!, /matches the empty string/);
    assert.equal(broadSilenceWarning([m('a', '.+', true)]), undefined);
    throwsStatus(() => s.set({ ...base, ...t, id: '5e2d1f1a-0000-4000-8000-000000000000', matchers: [m('a', 'b')] }), 404, /^silence not found$/);
    throwsStatus(() => s.expire('5e2d1f1a-0000-4000-8000-000000000000'), 404, /^silence not found$/);
  });

  it('updates in place only when Alertmanager would; otherwise replaces', () => {
    let now = 1_000_000;
    const s = new Silences(undefined, 1000, () => now);
    const id = s.set({ ...base, matchers: [m('a', 'b')], startsAt: now, endsAt: now + 1000 });
    // Active, same matchers and start, later end: in place.
    assert.equal(s.set({ ...base, id, matchers: [m('a', 'b')], startsAt: now, endsAt: now + 5000, comment: 'longer' }), id);
    assert.equal(s.get(id)!.comment, 'longer');
    now += 10;
    // Other matchers: the old one expires and a new one is made.
    const id2 = s.set({ ...base, id, matchers: [m('a', 'c')], startsAt: now, endsAt: now + 5000 });
    assert.notEqual(id2, id);
    assert.equal(silenceState(s.get(id)!, now), 'expired');
    assert.equal(silenceState(s.get(id2)!, now), 'active');
    // A bad update leaves the old silence untouched.
    throwsStatus(() => s.set({ ...base, id: id2, matchers: [m('a', '(', true)], startsAt: now, endsAt: now + 5000 }), 400, /invalid regular expression/);
    assert.equal(silenceState(s.get(id2)!, now), 'active');
    s.expire(id2);
    throwsStatus(() => s.expire(id2), 500, /already expired/);
    // A new silence never starts in the past.
    const id3 = s.set({ ...base, matchers: [m('a', 'd')], startsAt: now - 5000, endsAt: now + 5000 });
    assert.equal(s.get(id3)!.startsAt, now);
  });

  it('survive a reopen of their SQLite file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-silences-'));
    try {
      const file = join(dir, 'silences.db');
      const now = Date.now();
      const a = new Silences(new SqliteSilenceStore(file));
      const id = a.set({ ...base, matchers: [m('a', 'b')], startsAt: now, endsAt: now + 60_000 });
      const gone = a.set({ ...base, matchers: [m('a', 'c')], startsAt: now, endsAt: now + 60_000 });
      a.expire(gone);
      // No close: what a kill -9 leaves behind must be enough.
      const b = new Silences(new SqliteSilenceStore(file));
      assert.deepEqual(b.get(id), a.get(id));
      assert.equal(silenceState(b.get(gone)!, Date.now() + 1), 'expired');
      assert.deepEqual(b.silencedBy({ labels: { a: 'b' } }), [id]);
      b.close();
      a.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
