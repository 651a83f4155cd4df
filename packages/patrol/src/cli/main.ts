// The `patrol` command. Each command lives in its own module and registers itself here.

import { Command } from 'commander';
import { registerAgent } from './agent.js';
import { registerBackup } from './backup.js';
import { registerBaselines } from './baselines.js';
import { registerCheck } from './check.js';
import { registerHashPassword } from './hash_password.js';
import { registerNotify } from './notify.js';
import { registerQuery } from './query.js';
import { registerRun } from './run.js';
import { registerStart } from './start.js';
import { registerTest } from './testrules.js';

const program = new Command('patrol')
  .description('Patrol: service inspection and anomaly alerting for backend services')
  .version('0.1.0')
  .showHelpAfterError();

// Each command registers itself; keep this list in the order `patrol --help` shows it.
registerStart(program);
registerCheck(program);
registerRun(program);
registerQuery(program);
registerTest(program);
registerBaselines(program);
registerNotify(program);
registerHashPassword(program);
registerAgent(program);
registerBackup(program);

await program.parseAsync(process.argv);
