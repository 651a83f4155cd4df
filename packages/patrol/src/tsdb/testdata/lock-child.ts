// Child process of the lock tests: opens the store in argv[2], prints "ready <pid>" (its PID as
// it sees it: 1 inside a PID namespace), and closes the store and exits when stdin closes, or
// dies by the parent's SIGKILL. An open failure is printed as "error <message>".
import { writeSync } from 'node:fs';
import { openTSDB } from '../tsdb.js';

const dir = process.argv[2];
try {
  const db = await openTSDB({ dir, retention: 86_400_000, compactInterval: 0 });
  writeSync(1, `ready ${process.pid}\n`);
  process.stdin.resume();
  process.stdin.on('close', () => {
    void db.close().then(() => process.exit(0));
  });
} catch (e) {
  writeSync(1, `error ${(e as Error).message}\n`);
  process.exit(3);
}
