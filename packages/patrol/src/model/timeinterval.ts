// Time intervals (Alertmanager's timeinterval package): named sets of periods, each of optional
// times of day, weekdays, days of the month (negative counts back from the month's end), months
// and years, read in a location's time zone (UTC by default). A route's mute_time_intervals mute
// its notifications while one contains the time; active_time_intervals mute them while none
// does. Start times are inclusive, end times exclusive; ranges `a:b` are inclusive. The parsing
// lives here so that config checks (`check config`) reject what `start` rejects.

interface Range {
  begin: number;
  end: number;
}

export interface Period {
  times: Range[];
  weekdays: Range[];
  daysOfMonth: Range[];
  months: Range[];
  years: Range[];
  fmt: Intl.DateTimeFormat;
}

export interface TimeIntervalConfig {
  times?: { start_time: string; end_time: string }[];
  weekdays?: string[];
  days_of_month?: string[];
  months?: string[];
  years?: string[];
  location?: string;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

function minutes(hhmm: string): number {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm);
  if (!m) throw new Error(`${JSON.stringify(hhmm)} is not a time of day (HH:MM)`);
  const v = Number(m[1]) * 60 + Number(m[2]);
  if (v > 24 * 60 || Number(m[2]) > 59) throw new Error(`${JSON.stringify(hhmm)} is not a time of day (HH:MM)`);
  return v;
}

function ranges(items: string[] | undefined, what: string, value: (s: string) => number, check: (r: Range) => void): Range[] {
  return (items ?? []).map((item) => {
    const s = item.trim().toLowerCase();
    // A negative day of month starts with '-': split on the ':' only.
    const parts = s.split(':');
    if (parts.length > 2 || parts.some((p) => p === '')) throw new Error(`invalid ${what} range ${JSON.stringify(item)}`);
    const r = { begin: value(parts[0]), end: value(parts[parts.length - 1]) };
    check(r);
    return r;
  });
}

function number(what: string): (s: string) => number {
  return (s) => {
    if (!/^-?\d+$/.test(s)) throw new Error(`invalid ${what} ${JSON.stringify(s)}`);
    return Number(s);
  };
}

function named(names: string[], what: string, base: number): (s: string) => number {
  return (s) => {
    const i = names.indexOf(s);
    if (i >= 0) return i + base;
    if (base === 1 && /^\d+$/.test(s)) return Number(s);
    throw new Error(`invalid ${what} ${JSON.stringify(s)}`);
  };
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(location: string): Intl.DateTimeFormat {
  const tz = location === '' || location === 'Local' ? 'UTC' : location;
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'long' });
    } catch {
      throw new Error(`unknown time zone location ${JSON.stringify(location)}`);
    }
    formatters.set(tz, f);
  }
  return f;
}

/** Parses one period as Alertmanager validates it; throws with a message naming the problem. */
export function parsePeriod(c: TimeIntervalConfig): Period {
  const times = (c.times ?? []).map((t) => {
    const r = { begin: minutes(t.start_time), end: minutes(t.end_time) };
    if (r.begin >= r.end) throw new Error(`start time ${t.start_time} must be before end time ${t.end_time}`);
    return r;
  });
  const order = (what: string) => (r: Range) => {
    if (r.begin > r.end) throw new Error(`${what} range start must be before its end`);
  };
  const weekdays = ranges(c.weekdays, 'weekday', named(WEEKDAYS, 'weekday', 0), order('weekday'));
  const daysOfMonth = ranges(c.days_of_month, 'day of month', number('day of month'), (r) => {
    for (const d of [r.begin, r.end]) if (d === 0 || d < -31 || d > 31) throw new Error(`${d} is not a valid day of the month: out of range`);
    // Mixed signs are allowed only as Alertmanager allows them (checked per month at match time).
    if (Math.sign(r.begin) === Math.sign(r.end) && r.begin > r.end) throw new Error('day of month range start must be before its end');
  });
  const months = ranges(c.months, 'month', named(MONTHS, 'month', 1), (r) => {
    for (const m of [r.begin, r.end]) if (m < 1 || m > 12) throw new Error(`${m} is not a valid month`);
    order('month')(r);
  });
  const years = ranges(c.years, 'year', number('year'), order('year'));
  return { times, weekdays, daysOfMonth, months, years, fmt: formatter(c.location ?? 'UTC') };
}

function inRanges(rs: Range[], v: number): boolean {
  return rs.length === 0 || rs.some((r) => v >= r.begin && v <= r.end);
}

/** Alertmanager's TimeInterval.ContainsTime. */
export function periodContains(p: Period, ms: number): boolean {
  const parts: Record<string, string> = {};
  for (const x of p.fmt.formatToParts(new Date(ms))) parts[x.type] = x.value;
  const year = Number(parts.year);
  const month = Number(parts.month);
  const day = Number(parts.day);
  const minute = Number(parts.hour) * 60 + Number(parts.minute);
  const weekday = WEEKDAYS.indexOf(parts.weekday.toLowerCase());
  if (p.times.length > 0 && !p.times.some((r) => minute >= r.begin && minute < r.end)) return false;
  if (p.daysOfMonth.length > 0) {
    const inMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
    let hit = false;
    for (const r of p.daysOfMonth) {
      let begin = r.begin < 0 ? inMonth + r.begin + 1 : r.begin;
      let end = r.end < 0 ? inMonth + r.end + 1 : r.end;
      if (begin > inMonth) continue;
      begin = Math.min(Math.max(begin, -inMonth), inMonth);
      end = Math.min(Math.max(end, -inMonth), inMonth);
      if (day >= begin && day <= end) {
        hit = true;
        break;
      }
    }
    if (!hit) return false;
  }
  return inRanges(p.months, month) && inRanges(p.weekdays, weekday) && inRanges(p.years, year);
}
