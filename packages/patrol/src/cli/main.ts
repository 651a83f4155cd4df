// The `patrol` command. Each command lives in its own module and registers itself here.

import { Command } from 'commander';

const program = new Command('patrol')
  .description('Patrol: service inspection and anomaly alerting for backend services')
  .version('0.1.0')
  .showHelpAfterError();

// Commands register themselves: registerX(program).

await program.parseAsync(process.argv);
