import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { createLogger } from './logger.js';
import { Patrol } from './server.js';

interface Line {
  level: string;
  msg: string;
  component?: string;
  [k: string]: unknown;
}

describe('events in the log', () => {
  it('probe and scrape target going down are warnings with the reason, coming back is info, debug shows every run', async () => {
    let healthy = false;
    const target = createServer((req, res) => {
      if (!healthy) return void res.writeHead(503).end('maintenance');
      if (req.url === '/metrics') return void res.end('app_requests_total 1\n');
      res.end('ok');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'patrol-logevents-'));
    const configFile = join(dir, 'patrol.yml');
    writeFileSync(
      configFile,
      `scrape_configs:
  - job_name: app
    scrape_interval: 5s
    scrape_timeout: 5s
    static_configs: [{targets: ['127.0.0.1:${port}']}]
probes:
  - name: web
    type: http
    target: http://127.0.0.1:${port}/health
    interval: 5s
    timeout: 5s
    failure_threshold: 1
`,
    );
    const lines: Line[] = [];
    const stream = new PassThrough();
    let rest = '';
    stream.on('data', (d: Buffer) => {
      const parts = (rest + d.toString()).split('\n');
      rest = parts.pop()!;
      for (const p of parts) if (p) lines.push(JSON.parse(p) as Line);
    });
    const find = (pred: (l: Line) => boolean) => lines.find(pred);
    const until = async (pred: (l: Line) => boolean, what: string) => {
      const deadline = Date.now() + 90_000;
      while (!find(pred)) {
        if (Date.now() > deadline) assert.fail(`no log line: ${what}\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return find(pred)!;
    };
    const patrol = new Patrol({ configFile, dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('debug', stream) });
    try {
      await patrol.start();
      const down = await until((l) => l.msg === 'probe down', 'probe down');
      assert.equal(down.level, 'warn');
      assert.equal(down.component, 'probes');
      assert.equal(down.probe, 'web');
      assert.match(String(down.reason), /503/);
      const first = await until((l) => l.msg === 'first scrape of target failed', 'first scrape failure');
      assert.equal(first.level, 'warn');
      assert.equal(first.component, 'scrape');
      assert.equal(first.job, 'app');
      assert.equal(first.instance, `127.0.0.1:${port}`);
      assert.match(String(first.reason), /503/);

      healthy = true;
      const up = await until((l) => l.msg === 'probe up', 'probe up');
      assert.equal(up.level, 'info');
      assert.equal(up.from, 'down');
      const tup = await until((l) => l.msg === 'scrape target up', 'scrape target up');
      assert.equal(tup.level, 'info');
      assert.equal(tup.instance, `127.0.0.1:${port}`);

      const run = await until((l) => l.msg === 'probe run' && l.success === true, 'a successful probe run at debug');
      assert.equal(run.level, 'debug');
      const scrape = await until((l) => l.msg === 'scrape' && l.ok === true, 'a successful scrape at debug');
      assert.equal(scrape.level, 'debug');
      assert.equal(scrape.samples, 1);
    } finally {
      await patrol.stop();
      target.close();
    }
  });
});
