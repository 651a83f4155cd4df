// The machine's time zone without asking Intl (which loads 8.5 MB of ICU's data): from TZ or the
// /etc/localtime link, named as Intl names it; and times in UTC formatted without a formatter.
// Each case runs in a child process, since the zone is read once per process.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { formatTime } from './tmpl.js';

const tmpl = new URL('./tmpl.ts', import.meta.url).href;

function inChild(tz: string | undefined): { patrol: string; intl: string; icuLoaded: boolean } {
  const env = { ...process.env };
  if (tz === undefined) delete env.TZ;
  else env.TZ = tz;
  const code = `const { localTimeZone } = await import(${JSON.stringify(tmpl)});
const before = process.memoryUsage().rss;
const patrol = localTimeZone();
const grew = process.memoryUsage().rss - before;
console.log(JSON.stringify({ patrol, intl: Intl.DateTimeFormat().resolvedOptions().timeZone, icuLoaded: grew > 4e6 }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { patrol: string; intl: string; icuLoaded: boolean };
}

describe('the machine time zone', () => {
  for (const tz of ['Asia/Shanghai', ':Europe/Berlin', 'Etc/UTC', '', undefined]) {
    it(`TZ=${tz === undefined ? '(unset)' : JSON.stringify(tz)}: the zone Intl names, without loading ICU's data`, () => {
      const r = inChild(tz);
      // An empty TZ is UTC (as in Go and the C library); Intl calls it "Etc/Unknown".
      assert.equal(r.patrol, tz === '' ? 'UTC' : r.intl);
      assert.equal(r.icuLoaded, false);
    });
  }

  it('a time in UTC reads the same as through a formatter', () => {
    const t = Date.UTC(2026, 11, 4, 20, 0, 5);
    assert.equal(formatTime(t, 'Etc/UTC'), '2026-12-04 20:00:05 UTC');
    assert.equal(formatTime(t, 'UTC'), formatTime(t, 'Africa/Abidjan').replace('GMT', 'UTC'));
    assert.equal(formatTime(t, 'Asia/Shanghai'), '2026-12-05 04:00:05 GMT+8');
  });
});
