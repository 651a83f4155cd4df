// Fuzz benchmark: mutates seed inputs and feeds them to the three parsers that take bytes from
// the network — the exposition parser (scrapes), the remote-write decoder (snappy, then the
// protobuf WriteRequest, then label validation) and the PromQL parser (query API, rules).
// A crash is any exception other than the module's own parse error class, any single input
// taking more than 1 s, and a worker that runs out of memory or hangs; each crashing input is
// written to the output folder. Prints iterations, rate, crashes and the slowest input per target.
//
//   npm run bench:fuzz                                  (20 s per target)
//   PATROL_FUZZ_SECONDS=3600 npm run bench:fuzz         (the one-hour run)
//   PATROL_FUZZ_TARGETS=promql PATROL_FUZZ_OUT=/tmp/f npm run bench:fuzz
//
// Seeds: the exposition fixtures and OpenMetrics conformance bodies (PATROL_CONFORMANCE_DIR),
// the queries of the PromQL conformance scripts, remote-write bodies encoded with the test-only
// protobuf helper, plus a few built-in ones so the bench runs without the shared suites.
// Each target runs in a worker thread (512 MB heap) watched by the main thread: the worker
// copies each input into shared memory before running it, so a hang is caught with its input.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

type TargetName = 'exposition' | 'remote_write' | 'promql';
const TARGETS: TargetName[] = ['exposition', 'remote_write', 'promql'];
const SLOW_MS = 1000;
const HANG_MS = 10_000;
const MAX_INPUT = 256 * 1024;

interface WorkerReport {
  kind: 'progress' | 'crash' | 'done';
  iterations?: number;
  slowestMs?: number;
  crash?: { why: string; input: Uint8Array; ms: number };
}

// ---------------------------------------------------------------- shared: seeds and mutation

/** A small deterministic PRNG (xorshift32), so a run can be repeated with PATROL_FUZZ_SEED. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();

const DICT: Record<TargetName, string[]> = {
  exposition: ['# TYPE ', '# HELP ', '# UNIT ', '# EOF\n', ' counter\n', ' histogram\n', ' summary\n', ' gaugehistogram\n', ' stateset\n', ' info\n', '{', '}', '="', '"', ',', '\\', '\\n', '\\"', 'le="+Inf"', 'quantile="0.5"', '_bucket', '_total', '_created', '_count', '_sum', ' NaN', ' +Inf', ' -Inf', ' 1e308', ' 0x1p3', ' # {a="b"} 1 1.5', ' 1.5e9', ' -0', '\n', '\r\n', '\t', '\u0000', '\u00ff', '\ud800', '😀', ' 9223372036854775807', ' 18446744073709551616'],
  remote_write: [],
  promql: ['sum', 'rate', ' by ', ' without ', '(', ')', '[5m]', '[1d:1ms]', '[100y:1ms]', '@ start()', '@ 1e308', ' offset -5m', '=~', '!~', '"', "'", '`', '{', '}', ',', ' on(', ' ignoring(', ' group_left', ' group_right', ' bool ', '^', '%', ' and ', ' or ', ' unless ', 'label_replace(', 'histogram_quantile(', 'count_values(', 'topk(', 'quantile_over_time(', '1e308', '0x7f', 'Inf', 'NaN', '-', '+', '/', ' atan2 ', '\\', '\\u', '\\x', '\\U0010FFFF', '#', '\n', 'step()', '[5m:]', ' smoothed', ' anchored', 'info(', 'absent(', '__name__', '"(a+)+b"', '(?i)', '[', ']', '1h30m', '5m+1m'],
};

const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x22, 0x5c, 0x7b, 0x7d, 0x3d, 0x2c, 0x23, 0x20];

function mutate(input: Uint8Array, corpus: Uint8Array[], dict: string[], r: () => number): Uint8Array {
  let b = Array.from(input);
  const n = 1 + Math.floor(r() * 5);
  const pick = (len: number) => Math.floor(r() * Math.max(1, len));
  for (let k = 0; k < n; k++) {
    const op = Math.floor(r() * (dict.length ? 11 : 9));
    const at = pick(b.length);
    switch (op) {
      case 0: // flip a bit
        if (b.length) b[at] ^= 1 << Math.floor(r() * 8);
        break;
      case 1: // an interesting byte
        if (b.length) b[at] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2: // a random byte inserted
        b.splice(at, 0, Math.floor(r() * 256));
        break;
      case 3: // delete a range
        b.splice(at, 1 + pick(Math.min(64, b.length - at)));
        break;
      case 4: {
        // duplicate a range in place
        const len = 1 + pick(Math.min(64, b.length - at));
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
      case 5: {
        // repeat a short range many times (quadratic behaviour shows up here)
        const len = 1 + pick(Math.min(16, b.length - at));
        const chunk = b.slice(at, at + len);
        const times = 1 + pick(r() < 0.1 ? 20_000 / len : 200);
        const rep: number[] = [];
        for (let i = 0; i < times && rep.length < 64 * 1024; i++) rep.push(...chunk);
        b = b.slice(0, at).concat(rep, b.slice(at));
        break;
      }
      case 6: {
        // splice with another seed
        const other = corpus[pick(corpus.length)];
        const from = pick(other.length);
        b = b.slice(0, at).concat(Array.from(other.subarray(from, from + 1 + pick(256))), b.slice(at));
        break;
      }
      case 7: // truncate
        b.length = at;
        break;
      case 8: {
        // overwrite with a 64-bit-ish big varint / number bytes
        const v = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01].slice(0, 1 + pick(10));
        b.splice(at, Math.min(v.length, b.length - at), ...v);
        break;
      }
      default: {
        // insert or replace with a dictionary token
        const tok = Array.from(enc.encode(dict[pick(dict.length)]));
        b.splice(at, op === 9 ? 0 : Math.min(tok.length, b.length - at), ...tok);
      }
    }
    if (b.length > MAX_INPUT) b.length = MAX_INPUT;
  }
  return Uint8Array.from(b);
}

// ---------------------------------------------------------------- worker: one target

async function workerMain(): Promise<void> {
  const { target, seconds, seed, shared } = workerData as { target: TargetName; seconds: number; seed: number; shared: SharedArrayBuffer };
  const ctl = new Int32Array(shared, 0, 4); // [heartbeat, inputLength, ready]
  const inputBuf = new Uint8Array(shared, 16);
  const { ParseError, parseExposition } = await import('../src/textparse/parser.js');
  const { parseExpr } = await import('../src/promql/parser.js');
  const { QueryError } = await import('../src/promql/types.js');
  const { decodeWriteRequest, normaliseLabels, DecodeError } = await import('../src/api/remote_write.js');
  const { snappyUncompress, SnappyError } = await import('../src/api/snappy.js');
  const { snappy, WriteRequestType } = await import('../src/api/remote_write.testutil.js');
  const { conformancePath, fixturesPath } = await import('../src/testing/shared.js');

  const seeds: Uint8Array[] = [];
  let run: (b: Uint8Array, i: number) => unknown;
  let expected: (e: unknown) => boolean;
  const dict = DICT[target];

  if (target === 'exposition') {
    const dir = fixturesPath('exposition');
    if (existsSync(dir)) for (const f of readdirSync(dir)) seeds.push(readFileSync(join(dir, f)).subarray(0, 64 * 1024));
    const om = conformancePath('openmetrics');
    if (existsSync(om)) for (const d of readdirSync(om)) if (existsSync(join(om, d, 'metrics'))) seeds.push(readFileSync(join(om, d, 'metrics')));
    seeds.push(enc.encode('# HELP a_total help\n# TYPE a_total counter\na_total{x="y",z="\\"q\\n"} 1.5 1700000000000\nb 1\n'));
    seeds.push(enc.encode('# TYPE h histogram\nh_bucket{le="1"} 1 # {trace="a"} 0.5 1.0\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 3\n# EOF\n'));
    run = (b, i) => parseExposition(b, i % 2 ? 'application/openmetrics-text; version=1.0.0' : 'text/plain; version=0.0.4');
    expected = (e) => e instanceof ParseError;
  } else if (target === 'promql') {
    const dir = conformancePath('promql');
    if (existsSync(dir)) {
      for (const f of readdirSync(dir).filter((x) => x.endsWith('.test'))) {
        for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
          const m = /^\s*eval(?:_\w+)?\s+(?:instant|range)\s+(?:from\s+\S+\s+to\s+\S+\s+step\s+\S+|at\s+\S+)\s+(.+)$/.exec(line);
          if (m) seeds.push(enc.encode(m[1]));
        }
      }
    }
    for (const q of ['sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) / on(job) group_left sum by (job) (rate(http_requests_total[5m]))', 'histogram_quantile(0.9, sum by (le) (rate(x_bucket[1m] offset 1h @ 100)))', 'label_replace(up, "a", "$1", "instance", "(.*):.*")', 'count_over_time(vector(1)[1d:1ms])', '{__name__=~"a|b", "utf8.name"="x"}', '-1e3 ^ 2 % -Inf'])
      seeds.push(enc.encode(q));
    const dec = new TextDecoder();
    run = (b) => parseExpr(dec.decode(b));
    expected = (e) => e instanceof QueryError;
  } else {
    const mk = (series: { labels: Record<string, string>; samples: [number, number][] }[]) =>
      WriteRequestType.encode(
        WriteRequestType.create({
          timeseries: series.map((s) => ({ labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })), samples: s.samples.map(([value, timestamp]) => ({ value, timestamp })) })),
        }),
      ).finish();
    const raw = [
      mk([{ labels: { __name__: 'up', job: 'a', instance: 'h:1' }, samples: [[1, 1_700_000_000_000]] }]),
      mk(Array.from({ length: 20 }, (_, i) => ({ labels: { __name__: `m${i % 3}`, i: String(i), zz: 'é😀' }, samples: [[i * 1.5, 1_700_000_000_000 + i], [NaN, 1_700_000_000_001 + i]] }))),
      mk([{ labels: { b: '1', a: '2', __name__: '' }, samples: [] }]),
    ];
    // Half raw protobuf (tests the decoder directly), half snappy-compressed (the whole path).
    for (const r of raw) seeds.push(r, snappy.compress(r));
    const limits = { labelLimit: 512, labelNameLengthLimit: 1024, labelValueLengthLimit: 16 * 1024 };
    run = async (b, i) => {
      const buf = i % 2 ? await snappyUncompress(b, 32 * 1024 * 1024) : b;
      decodeWriteRequest(buf, (s) => void normaliseLabels(s.labels), limits);
    };
    expected = (e) => e instanceof DecodeError || e instanceof SnappyError;
  }

  const r = rng(seed);
  // Ready: the watchdog counts a hang only from here (starting a worker under load can take
  // longer than HANG_MS, which was reported as a hang on an empty input).
  Atomics.store(ctl, 2, 1);
  const started = Date.now();
  let iterations = 0;
  let slowestMs = 0;
  let lastProgress = started;
  const report = (m: WorkerReport) => parentPort!.postMessage(m);
  while (Date.now() - started < seconds * 1000) {
    const base = seeds[Math.floor(r() * seeds.length)];
    const input = r() < 0.02 ? base : mutate(base, seeds, dict, r);
    ctl[1] = input.length;
    inputBuf.set(input.subarray(0, inputBuf.length));
    // Remote write alternates raw and compressed; the seed list alternates too.
    const i = target === 'remote_write' ? seeds.indexOf(base) % 2 : iterations;
    const t0 = performance.now();
    let why = '';
    try {
      await run(input, i);
    } catch (e) {
      if (!expected(e)) why = `${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 200)} @ ${String((e as Error)?.stack ?? '').split('\n')[1]?.trim() ?? ''}`;
    }
    const ms = performance.now() - t0;
    if (ms > slowestMs) slowestMs = ms;
    if (ms > SLOW_MS && !why) why = `slow: one input took ${ms.toFixed(0)} ms`;
    if (why) report({ kind: 'crash', crash: { why, input, ms } });
    iterations++;
    Atomics.add(ctl, 0, 1);
    if (Date.now() - lastProgress > 1000) {
      lastProgress = Date.now();
      report({ kind: 'progress', iterations, slowestMs });
    }
  }
  report({ kind: 'done', iterations, slowestMs });
}

// ---------------------------------------------------------------- main: run, watch, report

interface TargetResult {
  target: TargetName;
  iterations: number;
  seconds: number;
  slowestMs: number;
  crashes: Map<string, { count: number; file: string }>;
  restarts: number;
}

function runTarget(target: TargetName, seconds: number, seed: number, outDir: string): Promise<TargetResult> {
  const res: TargetResult = { target, iterations: 0, seconds: 0, slowestMs: 0, crashes: new Map(), restarts: 0 };
  const t0 = Date.now();
  const save = (why: string, input: Uint8Array) => {
    const key = why.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\d+(\.\d+)?/g, 'N');
    const seen = res.crashes.get(key);
    if (seen) {
      seen.count++;
      return;
    }
    if (res.crashes.size >= 500) return;
    mkdirSync(outDir, { recursive: true });
    const file = join(outDir, `${target}-${createHash('sha1').update(input).digest('hex').slice(0, 12)}.bin`);
    writeFileSync(file, input);
    writeFileSync(`${file}.txt`, `${why}\n`);
    res.crashes.set(key, { count: 1, file });
  };
  return new Promise((resolve) => {
    const start = (left: number, s: number): void => {
      const shared = new SharedArrayBuffer(16 + MAX_INPUT + 64 * 1024);
      const ctl = new Int32Array(shared, 0, 4);
      const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
      const w = new Worker(bootstrap, { eval: true, workerData: { target, seconds: left, seed: s, shared }, resourceLimits: { maxOldGenerationSizeMb: 512 } });
      const base = res.iterations;
      let lastBeat = -1;
      let lastChange = Date.now();
      let hung = false;
      let ended = false;
      const watchdog = setInterval(() => {
        const beat = Atomics.load(ctl, 0);
        if (Atomics.load(ctl, 2) === 0) lastChange = Date.now();
        else if (beat !== lastBeat) {
          lastBeat = beat;
          lastChange = Date.now();
        } else if (Date.now() - lastChange > HANG_MS && !hung) {
          hung = true;
          const len = Math.min(Atomics.load(ctl, 1), MAX_INPUT);
          save(`hang: no progress for ${HANG_MS / 1000} s`, new Uint8Array(shared, 16, len).slice());
          void w.terminate();
        }
      }, 500);
      const end = (err?: Error) => {
        if (ended) return;
        ended = true;
        clearInterval(watchdog);
        // The heartbeat counts every input run, also those of a worker killed before it reported.
        res.iterations = base + Atomics.load(ctl, 0);
        const used = (Date.now() - t0) / 1000;
        if (err && !hung) {
          const len = Math.min(Atomics.load(ctl, 1), MAX_INPUT);
          save(`worker died: ${err.message}`, new Uint8Array(shared, 16, len).slice());
        }
        if ((err || hung) && used < seconds - 1) {
          res.restarts++;
          start(seconds - used, s + 1);
          return;
        }
        res.seconds = used;
        resolve(res);
      };
      w.on('message', (m: WorkerReport) => {
        if (m.iterations !== undefined) res.iterations = base + m.iterations;
        if (m.slowestMs !== undefined) res.slowestMs = Math.max(res.slowestMs, m.slowestMs);
        if (m.kind === 'crash' && m.crash) save(m.crash.why, m.crash.input);
      });
      w.on('error', (e) => end(e));
      w.on('exit', (code) => end(code !== 0 && !hung ? new Error(`exit code ${code}`) : undefined));
    };
    start(seconds, seed);
  });
}

async function main(): Promise<void> {
  const seconds = Number(process.env.PATROL_FUZZ_SECONDS ?? 20);
  const seed = Number(process.env.PATROL_FUZZ_SEED ?? Date.now() % 1_000_000);
  const outDir = process.env.PATROL_FUZZ_OUT ?? join(tmpdir(), 'patrol-fuzz');
  const only = (process.env.PATROL_FUZZ_TARGETS ?? '').split(',').filter(Boolean);
  const targets = TARGETS.filter((t) => only.length === 0 || only.includes(t));
  console.log(`fuzz: ${seconds} s per target, seed ${seed}, crashing inputs go to ${outDir}`);
  let total = 0;
  for (const t of targets) {
    const r = await runTarget(t, seconds, seed, outDir);
    const n = [...r.crashes.values()].reduce((a, c) => a + c.count, 0);
    total += n;
    console.log(`${t.padEnd(13)} ${String(r.iterations).padStart(10)} inputs in ${r.seconds.toFixed(0)} s (${Math.round(r.iterations / Math.max(r.seconds, 1))}/s), slowest ${r.slowestMs.toFixed(1)} ms, crashes ${n} (${r.crashes.size} distinct), worker restarts ${r.restarts}`);
    for (const [why, c] of [...r.crashes].slice(0, 30)) console.log(`    ${c.count}× ${why.slice(0, 220)}\n       e.g. ${c.file}`);
  }
  console.log(total === 0 ? 'fuzz: no crash found' : `fuzz: ${total} crashing inputs`);
}

if (isMainThread) await main();
else await workerMain();
