// @grpc/grpc-js and ws (about 15 MB of resident memory together) are loaded only when a gRPC or
// WebSocket probe first runs: a Patrol whose configuration has neither never loads them, and a
// reload that adds them loads them and runs them. This file must import nothing that loads
// either module itself (each test file runs in its own process).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import Module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';

const loaded = (pkg: string) => Object.keys((Module as unknown as { _cache: Record<string, unknown> })._cache).some((f) => f.includes(`/node_modules/${pkg}/`));

interface ProbeRow {
  name: string;
  state: string;
  reason?: string | null;
}

describe('gRPC and WebSocket libraries load on first use', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-lazy-'));
  let patrol: Patrol | undefined;
  after(async () => {
    await patrol?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('are not loaded without such probes, and are once a reload adds them', async () => {
    const file = join(dir, 'patrol.yml');
    const http = `  - {name: web, type: http, target: "http://127.0.0.1:1/", interval: 1s, timeout: 1s}\n`;
    writeFileSync(file, `host: {enabled: false}\nprobes:\n${http}`);
    patrol = new Patrol({ configFile: file, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()) });
    await patrol.start();
    const base = `http://${patrol.listen}`;
    const probes = async () => ((await (await fetch(`${base}/api/patrol/v1/probes`)).json()) as { data: ProbeRow[] }).data;
    const settled = async (names: string[]) => {
      const end = Date.now() + 60_000;
      for (;;) {
        const rows = await probes();
        if (names.every((n) => rows.some((r) => r.name === n && r.state !== 'unknown'))) return rows;
        if (Date.now() > end) assert.fail(`probes did not run: ${JSON.stringify(rows)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await settled(['web']);
    assert.equal(loaded('@grpc/grpc-js'), false, 'grpc-js loaded without a gRPC probe');
    assert.equal(loaded('ws'), false, 'ws loaded without a WebSocket probe');

    writeFileSync(
      file,
      `host: {enabled: false}\nprobes:\n${http}  - {name: rpc, type: grpc, target: "127.0.0.1:1", interval: 1s, timeout: 1s}\n  - {name: socket, type: websocket, target: "ws://127.0.0.1:1/", interval: 1s, timeout: 1s}\n`,
    );
    const r = await fetch(`${base}/-/reload`, { method: 'POST' });
    assert.equal(r.status, 200, await r.text());
    const rows = await settled(['rpc', 'socket']);
    for (const n of ['rpc', 'socket']) {
      const row = rows.find((x) => x.name === n)!;
      assert.equal(row.state, 'down', `${n}: ${JSON.stringify(row)}`);
      assert.match(String(row.reason), /refused|UNAVAILABLE|connect/i, `${n}: ${JSON.stringify(row)}`);
    }
    assert.equal(loaded('@grpc/grpc-js'), true);
    assert.equal(loaded('ws'), true);
  });
});
