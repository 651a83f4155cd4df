// Child process of the crash test: appends numbered batches forever and prints each batch id
// after its commit returns. The parent kills it with SIGKILL at a random moment.
import { writeSync } from 'node:fs';
import { labelsFromRecord } from '../../model/labels.js';
import { STALE_NAN } from '../../model/value.js';
import { openTSDB } from '../tsdb.js';

const [dir, startArg, seriesArg] = process.argv.slice(2);
const series = Number(seriesArg);
const db = await openTSDB({ dir, retention: 365 * 86_400_000, compactInterval: 20, headMaxAge: 50, outOfOrderWindow: 0, now: () => 1e9 });
const labels = Array.from({ length: series }, (_, i) => labelsFromRecord({ __name__: 'crash_test', i: String(i) }));
const refs = new Array<number>(series).fill(0);
let batch = Number(startArg);
// stdout is a non-blocking pipe: retry until the kernel takes the line (≤ PIPE_BUF, so atomic).
const say = (line: string): void => {
  for (;;) {
    try {
      writeSync(1, line);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
};
const step = (): void => {
  for (let k = 0; k < 20; k++, batch++) {
    const a = db.appender();
    for (let i = 0; i < series; i++) refs[i] = a.append(refs[i], labels[i], batch * 1000, batch % 50 === 7 ? STALE_NAN : batch + i);
    a.commit();
    say(`${batch}\n`);
  }
  setImmediate(step);
};
step();
