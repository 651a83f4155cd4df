// Durations in Prometheus's syntax: units y w d h m s ms, largest first, each at most once
// (`1h30m`, `5m`, `1d`, `0`). Parsed values are milliseconds.

const UNITS: readonly [string, number][] = [
  ['y', 365 * 24 * 3600 * 1000],
  ['w', 7 * 24 * 3600 * 1000],
  ['d', 24 * 3600 * 1000],
  ['h', 3600 * 1000],
  ['m', 60 * 1000],
  ['s', 1000],
  ['ms', 1],
];

const DURATION_RE = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;

/** Returns milliseconds, or null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  if (text === '0') return 0;
  if (text === '') return null;
  const m = DURATION_RE.exec(text);
  if (!m) return null;
  let ms = 0;
  for (let i = 0; i < UNITS.length; i++) {
    const part = m[i + 1];
    if (part !== undefined) ms += Number(part) * UNITS[i][1];
  }
  return Number.isSafeInteger(ms) ? ms : null;
}

/** Formats milliseconds the way Prometheus prints durations (`1h30m`, `15s`, `0s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  if (rest < 0) {
    out = '-';
    rest = -rest;
  }
  for (const [unit, size] of UNITS) {
    // Prometheus prints weeks and years only when they divide exactly.
    if ((unit === 'y' || unit === 'w') && rest % size !== 0) continue;
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** Byte sizes as Prometheus accepts them: `512MB`, `1GB`, `10KiB`, `0`. Returns bytes or null. */
export function parseByteSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)?$/i.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'B').toUpperCase();
  // Prometheus's units.Base2Bytes: KB and KiB both mean 1024.
  const pow = ['B', 'KB', 'MB', 'GB', 'TB', 'PB', 'EB'].indexOf(unit.replace('IB', 'B'));
  return Math.round(n * 1024 ** pow);
}
