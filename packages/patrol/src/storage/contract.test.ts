import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { openTSDB } from '../tsdb/tsdb.js';
import { runStorageContract } from './contract.js';
import { MemoryStorage } from './memory.js';

const root = mkdtempSync(join(tmpdir(), 'patrol-contract-'));
let n = 0;
after(() => rmSync(root, { recursive: true, force: true }));

runStorageContract('MemoryStorage', async () => new MemoryStorage());
runStorageContract('TSDB', () => openTSDB({ dir: join(root, String(++n)), retention: 30 * 86_400_000, compactInterval: 0, now: () => 1e9 }));
