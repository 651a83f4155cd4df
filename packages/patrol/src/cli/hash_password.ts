import type { Command } from 'commander';
import { hashPassword } from '../web/auth_store.js';

/** `patrol hash-password`: reads a password from standard input, prints its scrypt hash for server.auth.users. */
export function registerHashPassword(program: Command): void {
  program
    .command('hash-password')
    .description('read a password on standard input and print its hash for server.auth.users.NAME.password_hash')
    .action(async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
      if (password === '') {
        process.stderr.write('hash-password: empty password on standard input\n');
        process.exit(2);
      }
      process.stdout.write(`${await hashPassword(password)}\n`);
    });
}
