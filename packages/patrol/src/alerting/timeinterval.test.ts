// Time intervals: examples from Alertmanager's configuration documentation and its
// timeinterval tests' cases, and the route muting they drive.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertingConfig } from '../config/alertmanager.js';
import { parsePeriod, periodContains, TimeIntervals } from './timeinterval.js';
import { startDispatcher, WebhookSink, waitFor } from './testutil.js';

const at = (iso: string) => Date.parse(iso);

describe('time intervals', () => {
  it('times: start inclusive, end exclusive', () => {
    const p = parsePeriod({ times: [{ start_time: '09:00', end_time: '17:00' }] });
    assert.equal(periodContains(p, at('2026-12-04T09:00:00Z')), true);
    assert.equal(periodContains(p, at('2026-12-04T16:59:59Z')), true);
    assert.equal(periodContains(p, at('2026-12-04T17:00:00Z')), false);
    assert.equal(periodContains(p, at('2026-12-04T08:59:00Z')), false);
  });

  it('weekdays with ranges (monday:friday)', () => {
    const p = parsePeriod({ weekdays: ['monday:wednesday', 'saturday'] });
    assert.equal(periodContains(p, at('2026-11-30T12:00:00Z')), true); // Monday
    assert.equal(periodContains(p, at('2026-12-02T12:00:00Z')), true); // Wednesday
    assert.equal(periodContains(p, at('2026-12-03T12:00:00Z')), false); // Thursday
    assert.equal(periodContains(p, at('2026-12-05T12:00:00Z')), true); // Saturday
  });

  it('days_of_month: negative counts back from the end of the month', () => {
    const last = parsePeriod({ days_of_month: ['-1'] });
    assert.equal(periodContains(last, at('2026-02-28T12:00:00Z')), true);
    assert.equal(periodContains(last, at('2028-02-28T12:00:00Z')), false); // leap year
    assert.equal(periodContains(last, at('2028-02-29T12:00:00Z')), true);
    const lastWeek = parsePeriod({ days_of_month: ['-7:-1'] });
    assert.equal(periodContains(lastWeek, at('2026-12-25T00:00:00Z')), true);
    assert.equal(periodContains(lastWeek, at('2026-12-24T23:59:00Z')), false);
    const firstOfMonthToTheEnd = parsePeriod({ days_of_month: ['1:5', '30:31'] });
    assert.equal(periodContains(firstOfMonthToTheEnd, at('2026-12-03T00:00:00Z')), true);
    assert.equal(periodContains(firstOfMonthToTheEnd, at('2026-12-31T00:00:00Z')), true);
    assert.equal(periodContains(firstOfMonthToTheEnd, at('2026-12-15T00:00:00Z')), false);
    // Day 30 does not exist in February: the range starting there is skipped.
    assert.equal(periodContains(parsePeriod({ days_of_month: ['30:31'] }), at('2026-02-28T00:00:00Z')), false);
  });

  it('months by name or number, years', () => {
    const p = parsePeriod({ months: ['january:march', '12'], years: ['2026:2027'] });
    assert.equal(periodContains(p, at('2026-02-10T00:00:00Z')), true);
    assert.equal(periodContains(p, at('2026-12-10T00:00:00Z')), true);
    assert.equal(periodContains(p, at('2026-06-10T00:00:00Z')), false);
    assert.equal(periodContains(p, at('2028-02-10T00:00:00Z')), false);
  });

  it('location: the fields are read in that time zone', () => {
    const p = parsePeriod({ times: [{ start_time: '09:00', end_time: '17:00' }], weekdays: ['monday:friday'], location: 'Australia/Sydney' });
    // 23:30 UTC Sunday is 10:30 Monday in Sydney (AEDT, +11).
    assert.equal(periodContains(p, at('2026-11-29T23:30:00Z')), true);
    assert.equal(periodContains(p, at('2026-11-30T12:00:00Z')), false); // 23:00 Monday there
  });

  it('rejects what Alertmanager rejects, naming the problem', () => {
    assert.throws(() => parsePeriod({ times: [{ start_time: '17:00', end_time: '09:00' }] }), /start time 17:00 must be before end time 09:00/);
    assert.throws(() => parsePeriod({ weekdays: ['funday'] }), /invalid weekday "funday"/);
    assert.throws(() => parsePeriod({ days_of_month: ['32'] }), /32 is not a valid day of the month/);
    assert.throws(() => parsePeriod({ months: ['13'] }), /13 is not a valid month/);
    assert.throws(() => parsePeriod({ location: 'Mars/Olympus' }), /unknown time zone location "Mars\/Olympus"/);
  });

  it('mute_time_intervals mute inside, active_time_intervals mute outside', () => {
    const t = new TimeIntervals([
      { name: 'weekend', time_intervals: [{ weekdays: ['saturday', 'sunday'] }] },
      { name: 'office', time_intervals: [{ times: [{ start_time: '09:00', end_time: '17:00' }] }] },
    ]);
    const sat = at('2026-12-05T12:00:00Z');
    const friNight = at('2026-12-04T22:00:00Z');
    assert.equal(t.muted(['weekend'], [], sat), true);
    assert.equal(t.muted(['weekend'], [], friNight), false);
    assert.equal(t.muted([], ['office'], friNight), true);
    assert.equal(t.muted([], ['office'], sat), false);
  });

  it('a route muted by an interval that always holds sends nothing; its sibling sends', async () => {
    const sink = await new WebhookSink().start();
    const d = await startDispatcher(`alerting:
  route:
    receiver: open
    group_by: [alertname]
    group_wait: 0s
    group_interval: 1s
    routes:
      - {receiver: muted, matchers: ['team="a"'], mute_time_intervals: [always]}
      - {receiver: outside, matchers: ['team="b"'], active_time_intervals: [never]}
  time_intervals:
    - name: always
      time_intervals: [{}]
    - name: never
      time_intervals: [{years: ['1999']}]
  receivers:
    - {name: open, webhook_configs: [{url: '${sink.url}/open'}]}
    - {name: muted, webhook_configs: [{url: '${sink.url}/muted'}]}
    - {name: outside, webhook_configs: [{url: '${sink.url}/outside'}]}
`);
    try {
      const ends = new Date(Date.now() + 3600_000).toISOString();
      d.post([
        { labels: { alertname: 'A', team: 'a' }, annotations: {}, endsAt: ends },
        { labels: { alertname: 'B', team: 'b' }, annotations: {}, endsAt: ends },
        { labels: { alertname: 'C', team: 'c' }, annotations: {}, endsAt: ends },
      ]);
      await waitFor('the open route notified', () => sink.on('/open').length >= 1);
      // Every group has flushed at least once (group_wait 0s, all inserted before the first flush).
      await waitFor('three flushes', () => d.flushes >= 3);
      await d.idle();
      assert.deepEqual(sink.received.map((r) => r.path), ['/open']);
    } finally {
      await d.stop();
      await sink.stop();
    }
  });
});

describe('time intervals in the configuration check', () => {
  it('rejects at load what the dispatcher cannot parse, naming the interval and its place', () => {
    const r = alertingConfig.safeParse({
      route: { receiver: 'r' },
      receivers: [{ name: 'r' }],
      time_intervals: [{ name: 'ok', time_intervals: [{ weekdays: ['monday:friday'] }] }],
      mute_time_intervals: [{ name: 'week', time_intervals: [{ location: 'Mars/Olympus' }, { weekdays: ['monday:sunday'] }] }],
    });
    assert.equal(r.success, false);
    assert.deepEqual(
      r.error!.issues.map((i) => [i.path.join('.'), i.message]),
      [
        ['mute_time_intervals.0.time_intervals.0', 'time interval "week": unknown time zone location "Mars/Olympus"'],
        ['mute_time_intervals.0.time_intervals.1', 'time interval "week": weekday range start must be before its end'],
      ],
    );
  });
});
