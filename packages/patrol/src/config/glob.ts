// File name patterns as Prometheus's Go filepath.Glob takes them (scrape_config_files): `*`, `?`
// and `[...]` classes (with `^` negation and ranges) in any path segment, `\` escapes; no `**`.
// A pattern that matches nothing is not an error; a malformed one is.

import { readdirSync, lstatSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileAnchored, type Regex } from '../model/regex.js';

const META = /[*?[\\]/;

export class BadPatternError extends Error {
  constructor(pattern: string) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}`);
    this.name = 'BadPatternError';
  }
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * One path segment's pattern as an anchored regex, on the linear-time engine: on JavaScript's
 * RegExp, `*a*a*a*a*a*a*b` took minutes against a 100-character file name. Throws
 * BadPatternError.
 */
export function segmentRegExp(seg: string, whole = seg): Regex {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      if (i + 1 >= seg.length) throw new BadPatternError(whole);
      re += escapeRe(seg[++i]);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (seg[j] === '^') {
        cls += '^';
        j++;
      }
      let closed = false;
      let first = true;
      while (j < seg.length) {
        if (seg[j] === ']' && !first) {
          closed = true;
          break;
        }
        first = false;
        let lo = seg[j];
        if (lo === '\\') {
          j++;
          if (j >= seg.length) throw new BadPatternError(whole);
          lo = seg[j];
        }
        j++;
        if (seg[j] === '-' && j + 1 < seg.length && seg[j + 1] !== ']') {
          let hi = seg[j + 1];
          j += 2;
          if (hi === '\\') {
            if (j >= seg.length) throw new BadPatternError(whole);
            hi = seg[j++];
          }
          if (hi < lo) throw new BadPatternError(whole);
          cls += `${escapeRe(lo)}-${escapeRe(hi)}`;
        } else cls += escapeRe(lo);
      }
      if (!closed || cls === '' || cls === '^') throw new BadPatternError(whole);
      re += `[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  try {
    return compileAnchored(re);
  } catch {
    throw new BadPatternError(whole);
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The existing paths matching `pattern`, sorted within each folder; throws BadPatternError. */
export function globSync(pattern: string): string[] {
  for (const seg of pattern.split('/')) if (META.test(seg)) segmentRegExp(seg, pattern);
  if (!META.test(pattern)) return exists(pattern) ? [pattern] : [];
  const dir = dirname(pattern);
  const file = basename(pattern);
  const dirs = META.test(dir) ? globSync(dir) : [dir];
  const out: string[] = [];
  for (const d of dirs) {
    if (!isDir(d)) continue;
    if (!META.test(file)) {
      if (exists(join(d, file))) out.push(join(d, file));
      continue;
    }
    const re = segmentRegExp(file, pattern);
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      continue;
    }
    for (const n of names) if (re.test(n)) out.push(join(d, n));
  }
  return out;
}

/** Whether `file` matches the glob `pattern` (both absolute or both relative), segment by segment; throws BadPatternError. */
export function matchesGlob(pattern: string, file: string): boolean {
  const ps = pattern.split('/');
  const fs = file.split('/');
  return ps.length === fs.length && ps.every((seg, i) => segmentRegExp(seg, pattern).test(fs[i]));
}
