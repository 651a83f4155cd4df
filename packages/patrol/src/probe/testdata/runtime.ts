import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { Runtime } from '../../component.js';
import { MemoryStorage } from '../../storage/memory.js';

export function testRuntime(): Runtime & { storage: MemoryStorage; cleanup(): void } {
  const dataDir = mkdtempSync(join(tmpdir(), 'patrol-probe-'));
  return {
    storage: new MemoryStorage(),
    logger: pino({ level: 'silent' }),
    registry: new Registry(),
    listen: '127.0.0.1:0',
    dataDir,
    cleanup: () => rmSync(dataDir, { recursive: true, force: true }),
  };
}
