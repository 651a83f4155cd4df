// Exposition parsing benchmark: the scanner alone on 10,000-series bodies from the shared fake
// exporter, first as a new target (every series parsed into labels) and then steady (each body
// scanned against the previous one's series positions, as a scrape loop does).
//
//   npm run bench -- parse

import { spawn } from 'node:child_process';
import { parseExposition, scanExposition, SeriesPositions } from '../src/textparse/parser.js';
import { freePort } from '../src/testing/net.js';
import { benchPath } from '../src/testing/shared.js';

const FAKE_EXPORTER = benchPath('fake-exporter.mjs');
const SERIES = 10_000;


async function fetchBodies(n: number): Promise<Buffer[]> {
  const port = await freePort();
  const child = spawn(process.execPath, [FAKE_EXPORTER, String(port), String(SERIES)], { stdio: 'ignore' });
  try {
    for (let i = 0; ; i++) {
      try {
        await fetch(`http://127.0.0.1:${port}/metrics?t=0`);
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const out: Buffer[] = [];
    for (let t = 0; t < n; t++) out.push(Buffer.from(await (await fetch(`http://127.0.0.1:${port}/metrics?t=${t}`)).arrayBuffer()));
    return out;
  } finally {
    child.kill();
  }
}

function time(label: string, runs: number, lines: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(runs, 50); i++) fn(i);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) fn(i);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs;
  console.log(`${label.padEnd(44)} ${ms.toFixed(3)} ms per body, ${((ms * 1e6) / lines).toFixed(0)} ns per series`);
}

const bodies = await fetchBodies(20);
console.log(`${bodies.length} bodies of ${SERIES} series, ${(bodies[0].length / 1024).toFixed(0)} KiB each`);
time('full parse (new target, labels built)', 40, SERIES, (i) => parseExposition(bodies[i % bodies.length]));
let prev = new SeriesPositions();
let rec = new SeriesPositions();
let recognised = 0;
time('steady scan (series recognised by bytes)', 2000, SERIES, (i) => {
  scanExposition(bodies[i % bodies.length], 'prometheus', { sample: (_b, _s, _e, _v, _t, _l, same) => void (same >= 0 && recognised++) }, undefined, { previous: prev, record: rec });
  [prev, rec] = [rec, prev];
});
console.log(`series recognised: ${recognised}`);
// The same bodies as OpenMetrics (counter families named without _total, # EOF at the end).
const om = bodies.map((b) => Buffer.from(b.toString('latin1').replace(/^# (HELP|TYPE) (app_requests_\d+)_total/gm, '# $1 $2') + '# EOF\n', 'latin1'));
time('OpenMetrics steady scan', 200, SERIES, (i) => {
  scanExposition(om[i % om.length], 'openmetrics', { sample: () => undefined }, undefined, { previous: prev, record: rec });
  [prev, rec] = [rec, prev];
});
// An exporter that changes its order every scrape (every other body reversed): each line is
// found through the hash index of the previous body.
const reversed = bodies.map((b) => Buffer.from(b.toString('latin1').trimEnd().split('\n').reverse().join('\n') + '\n', 'latin1'));
recognised = 0;
time('reordered every scrape (hash index lookups)', 1000, SERIES, (i) => {
  scanExposition((i & 1 ? reversed : bodies)[i % bodies.length], 'prometheus', { sample: (_b, _s, _e, _v, _t, _l, same) => void (same >= 0 && recognised++) }, undefined, { previous: prev, record: rec });
  [prev, rec] = [rec, prev];
});
console.log(`series recognised: ${recognised}`);
