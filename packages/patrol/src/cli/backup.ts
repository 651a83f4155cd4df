// `patrol backup`: asks a running Patrol for a backup of all its state (POST
// /api/patrol/v1/admin/backup) and, with --to, moves it out of the data directory.
// `patrol restore`: copies a backup into a new data directory, for `patrol start --data`.

import { cp, rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { DEFAULT_LISTEN } from '../server.js';
import { restoreBackup, RestoreError } from '../storage/backup.js';

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('back up all state of a running Patrol (TSDB snapshot and every SQLite store) while it runs')
    .option('--server <url>', 'the running Patrol', `http://${DEFAULT_LISTEN}`)
    .option('--to <dir>', 'move the backup to this new folder (on the same machine as the server)')
    .option('--token-env <name>', 'environment variable holding an admin API token', 'PATROL_TOKEN')
    .action(async (o: { server: string; to?: string; tokenEnv: string }) => {
      const token = process.env[o.tokenEnv];
      let r: Response;
      try {
        r = await fetch(new URL('/api/patrol/v1/admin/backup', o.server), { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
      } catch (e) {
        process.stderr.write(`backup: cannot reach ${o.server}: ${(e as Error).message}\n`);
        process.exit(1);
      }
      const body = (await r.json().catch(() => ({}))) as { data?: { path: string; files: unknown[] }; error?: string };
      if (!r.ok || !body.data) {
        process.stderr.write(`backup: ${r.status} ${body.error ?? r.statusText}\n`);
        process.exit(1);
      }
      let where = body.data.path;
      if (o.to) {
        await cp(where, o.to, { recursive: true, errorOnExist: true, force: false });
        await rm(where, { recursive: true, force: true });
        where = o.to;
      }
      process.stdout.write(`backup of ${body.data.files.length} files written to ${where}\n`);
    });

  program
    .command('restore')
    .description('restore a backup into a new, empty data directory (then start Patrol with --data on it)')
    .requiredOption('--from <dir>', 'the backup folder')
    .requiredOption('--data-dir <dir>', 'the new data directory (must not exist or be empty)')
    .action(async (o: { from: string; dataDir: string }) => {
      try {
        const m = await restoreBackup(o.from, o.dataDir);
        process.stdout.write(`restored ${m.files.length} files of the backup of ${m.created_at} into ${o.dataDir}\n`);
      } catch (e) {
        if (!(e instanceof RestoreError)) throw e;
        process.stderr.write(`restore: ${e.message}\n`);
        process.exit(1);
      }
    });
}
