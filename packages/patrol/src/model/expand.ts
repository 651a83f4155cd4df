// Go's regexp template expansion, shared by relabelling (replacement, target_label) and
// PromQL's label_replace, which both follow Go's regexp.Expand.

import type { RegexMatch } from './regex.js';

/** Go's regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups expand to "". */
export function expandTemplate(template: string, match: RegexMatch): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    if (template[d + 1] === '$') {
      out += '$';
      i = d + 2;
      continue;
    }
    const ref = extractRef(template, d);
    if (!ref) {
      // Malformed: the $ is literal text.
      out += '$';
      i = d + 1;
      continue;
    }
    i = ref.end;
    if (ref.num >= 0) {
      if (ref.num < match.length) out += match[ref.num] ?? '';
    } else {
      out += match.groups?.[ref.name] ?? '';
    }
  }
  return out;
}

const NAME_CHAR = /[\p{L}\p{Nd}_]/u;

function extractRef(s: string, at: number): { name: string; num: number; end: number } | null {
  if (at + 1 >= s.length) return null;
  let i = at + 1;
  const brace = s[i] === '{';
  if (brace) i++;
  const startName = i;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    if (!NAME_CHAR.test(ch)) break;
    i += ch.length;
  }
  if (i === startName) return null;
  const name = s.slice(startName, i);
  if (brace) {
    if (s[i] !== '}') return null;
    i++;
  }
  let num = -1;
  if (/^[0-9]+$/.test(name) && !(name.length > 1 && name[0] === '0') && name.length <= 9) num = Number(name);
  return { name, num, end: i };
}
