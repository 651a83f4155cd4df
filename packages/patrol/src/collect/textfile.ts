// The textfile collector, as node_exporter's: every *.prom file in one directory is parsed as
// the text exposition format and its samples are stored with the host's labels. A file that
// cannot be read or parsed, or that carries client-side timestamps, is skipped whole and sets
// node_textfile_scrape_error to 1; node_textfile_mtime_seconds{file} covers the files read.

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { labelsFromRecord, labelsKey, type Labels } from '../model/labels.js';
import { parseExposition } from '../textparse/parser.js';

export interface TextfileResult {
  samples: { labels: Labels; value: number }[];
  errors: { file: string; error: string }[];
}

/** Largest textfile read; bigger ones are skipped with an error (they are meant to be small). */
const MAX_FILE_BYTES = 64 * 1024 * 1024;

export async function readTextfiles(directory: string): Promise<TextfileResult> {
  const samples: { labels: Labels; value: number }[] = [];
  const errors: { file: string; error: string }[] = [];
  const seen = new Set<string>();
  const mtimes: { file: string; mtime: number }[] = [];
  let names: string[] = [];
  try {
    names = (await readdir(directory)).filter((n) => n.endsWith('.prom')).sort();
  } catch (e) {
    errors.push({ file: directory, error: `cannot read directory: ${(e as Error).message}` });
  }
  for (const name of names) {
    const path = join(directory, name);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      if (st.size > MAX_FILE_BYTES) throw new Error(`file is ${st.size} bytes, more than the ${MAX_FILE_BYTES} allowed`);
      const parsed = parseExposition(await readFile(path));
      if (parsed.samples.some((s) => s.timestamp !== undefined)) throw new Error('contains unsupported client-side timestamps, skipping entire file');
      const mine: { labels: Labels; value: number }[] = [];
      for (const s of parsed.samples) {
        const key = labelsKey(s.labels);
        if (seen.has(key)) throw new Error(`series ${key.replaceAll('\xff', '=').replaceAll('\xfe', ',')} is already exposed by another file or line`);
        seen.add(key);
        mine.push({ labels: s.labels, value: s.value });
      }
      samples.push(...mine);
      mtimes.push({ file: path, mtime: st.mtimeMs / 1000 });
    } catch (e) {
      errors.push({ file: path, error: (e as Error).message });
    }
  }
  for (const m of mtimes) samples.push({ labels: labelsFromRecord({ __name__: 'node_textfile_mtime_seconds', file: m.file }), value: m.mtime });
  samples.push({ labels: labelsFromRecord({ __name__: 'node_textfile_scrape_error' }), value: errors.length > 0 ? 1 : 0 });
  return { samples, errors };
}
