// Silence matchers as Alertmanager writes them: name="value", name!="value", name=~"regex",
// name!~"regex" (quotes optional for simple values). parseMatcher says why a line is invalid.

export interface Matcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual: boolean;
}

const LINE = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/;

export function parseMatcher(line: string): Matcher | { error: string } {
  const m = LINE.exec(line);
  if (!m) {
    if (/^\s*[^a-zA-Z_]/.test(line)) return { error: `"${line.trim()}": a label name starts with a letter or _ and has only letters, digits and _` };
    return { error: `"${line.trim()}": expected name="value" (operators =, !=, =~, !~)` };
  }
  const [, name, op, raw] = m;
  let value = raw;
  if (raw.startsWith('"')) {
    if (raw.length < 2 || !raw.endsWith('"') || /(^|[^\\])(\\\\)*\\"$/.test(raw.slice(0, -1) + '\\"') === false) {
      // fall through to the JSON parse which reports the problem
    }
    try {
      value = JSON.parse(raw) as string;
      if (typeof value !== 'string') throw new Error('not a string');
    } catch {
      return { error: `"${line.trim()}": the value's quotes are not closed or it has a bad escape` };
    }
  } else if (/[\s"]/.test(raw)) {
    return { error: `"${line.trim()}": quote a value with spaces or quotes: ${name}${op}"…"` };
  }
  const isRegex = op === '=~' || op === '!~';
  if (isRegex) {
    try {
      new RegExp(`^(?:${value})$`);
    } catch (e) {
      return { error: `"${line.trim()}": invalid regular expression: ${(e as Error).message}` };
    }
  }
  return { name, value, isRegex, isEqual: op === '=' || op === '=~' };
}

export function formatMatcher(m: Matcher): string {
  const op = m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!=';
  return `${m.name}${op}${JSON.stringify(m.value)}`;
}

/** Parses every non-empty line; errors lists why each bad line is bad. */
export function parseMatchers(text: string): { matchers: Matcher[]; errors: string[] } {
  const matchers: Matcher[] = [];
  const errors: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = parseMatcher(line);
    if ('error' in r) errors.push(r.error);
    else matchers.push(r);
  }
  return { matchers, errors };
}
