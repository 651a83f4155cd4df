// Side by side with Debian's Prometheus: both scrape the same target and run the same rule file
// (same path, so the same group slot), and must agree on the recorded series, on the ALERTS
// series and on where in the interval the group evaluates.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../logger.js';
import { Patrol } from '../server.js';
import { binaryPath, needBinary } from '../testing/shared.js';
import { freePort } from '../testing/net.js';

const skip = needBinary('prometheus');

const RULES = `groups:
  - name: sidebyside
    interval: 2s
    rules:
      - record: svc:errors:sum
        expr: sum by (svc) (demo_errors)
      - alert: ManyErrors
        expr: svc:errors:sum > 1
        for: 4s
        labels: {severity: warning}
      - alert: AnyErrors
        expr: demo_errors > 0
        labels: {severity: info}
      # Dropping svc leaves two alerts with the same labels: an evaluation error in both.
      - alert: DuplicateLabels
        expr: demo_errors > 0
        labels: {svc: ""}
`;

type Result = { metric: Record<string, string>; value: [number, string] }[];

async function query(base: string, q: string): Promise<Result> {
  const r = (await (await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`)).json()) as { data: { result: Result } };
  return r.data.result;
}

const sortKey = (m: Record<string, string>): string => JSON.stringify(Object.entries(m).sort());

describe('rules side by side with Prometheus 2.42', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-rules-sbs-'));
  let target: Server;
  let prom: ChildProcess;
  let promBase = '';
  let patrol: Patrol;
  let patrolBase = '';

  before(async () => {
    target = createServer((_req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      res.end('# TYPE demo_errors gauge\ndemo_errors{svc="a",instance_id="1"} 3\ndemo_errors{svc="a",instance_id="2"} 1\ndemo_errors{svc="b",instance_id="1"} 0\ndemo_errors{svc="c",instance_id="1"} 1\n');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const addr = target.address() as { port: number };
    const config = `global:\n  scrape_interval: 1s\n  evaluation_interval: 2s\nrule_files: ['rules.yml']\nscrape_configs:\n  - job_name: demo\n    static_configs: [{targets: ['127.0.0.1:${addr.port}']}]\n`;
    writeFileSync(join(dir, 'rules.yml'), RULES);
    writeFileSync(join(dir, 'prometheus.yml'), config);
    writeFileSync(join(dir, 'patrol.yml'), config);
    const port = await freePort();
    promBase = `http://127.0.0.1:${port}`;
    prom = spawn(binaryPath('prometheus'), [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'prom')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore' });
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'patrol'), listen: '127.0.0.1:0', logger: createLogger('silent') });
    await patrol.start();
    patrolBase = `http://${patrol.listen}`;
  });

  after(async () => {
    await patrol?.stop();
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom.once('exit', r));
      prom.kill('SIGTERM');
      await exited;
    }
    await new Promise((r) => target.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('both record the same series and fire the same alerts, at the same place in the interval', async () => {
    // Wait (bounded) until both have a firing ManyErrors: restore after 2 evaluations, then 4s of for.
    const firing = 'ALERTS{alertstate="firing"}';
    let p: Result = [];
    let q: Result = [];
    for (let i = 0; i < 300 && (p.length < 4 || q.length < 4); i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        [p, q] = await Promise.all([query(patrolBase, firing), query(promBase, firing)]);
      } catch {
        // Prometheus not listening yet.
      }
    }
    assert.deepEqual(p.map((r) => sortKey(r.metric)).sort(), q.map((r) => sortKey(r.metric)).sort());
    assert.equal(p.length, 4, 'ManyErrors{svc=a} and three AnyErrors');
    const [pr, qr] = await Promise.all([query(patrolBase, 'svc:errors:sum'), query(promBase, 'svc:errors:sum')]);
    assert.deepEqual(pr.map((r) => [sortKey(r.metric), r.value[1]]).sort(), qr.map((r) => [sortKey(r.metric), r.value[1]]).sort());
    // The group's slot: the sample timestamps modulo the 2s interval are the same in both.
    const slot = 'timestamp(svc:errors:sum{svc="a"}) % 2';
    const [ps, qs] = await Promise.all([query(patrolBase, slot), query(promBase, slot)]);
    assert.equal(Number(ps[0].value[1]).toFixed(3), Number(qs[0].value[1]).toFixed(3));
  });

  it('/api/v1/rules and /api/v1/alerts answer in the same shape with the same content', async () => {
    type Rule = Record<string, unknown> & { alerts?: { labels: Record<string, string>; state: string; value: string; annotations: unknown }[] };
    type Groups = { groups: (Record<string, unknown> & { rules: Rule[] })[] };
    const get = async (base: string, path: string) => ((await (await fetch(base + path)).json()) as { data: unknown }).data;
    const normalize = (d: Groups) =>
      d.groups.map((g) => ({
        keys: Object.keys(g).sort(),
        name: g.name,
        file: g.file,
        interval: g.interval,
        rules: g.rules.map((r) => ({
          keys: Object.keys(r).sort(),
          name: r.name,
          type: r.type,
          query: r.query,
          labels: r.labels,
          annotations: r.annotations,
          health: r.health,
          lastError: r.lastError,
          state: r.state,
          duration: r.duration,
          alerts: (r.alerts ?? []).map((a) => ({ keys: Object.keys(a).sort(), labels: a.labels, state: a.state, value: a.value, annotations: a.annotations })).sort((x, y) => (sortKey(x.labels) < sortKey(y.labels) ? -1 : 1)),
        })),
      }));
    const [p, q] = await Promise.all([get(patrolBase, '/api/v1/rules'), get(promBase, '/api/v1/rules')]);
    const np = normalize(p as Groups);
    const nq = normalize(q as Groups);
    // Patrol answers in Prometheus 3's shape, a superset of 2.42's: compare 2.42's keys only.
    for (let i = 0; i < nq.length; i++) {
      assert.ok(nq[i].keys.every((k) => np[i].keys.includes(k)), `group keys ${np[i].keys} lack some of ${nq[i].keys}`);
      np[i].keys = nq[i].keys;
      nq[i].rules.forEach((r, j) => {
        const pr = np[i].rules[j];
        assert.ok(r.keys.every((k) => pr.keys.includes(k)), `rule keys ${pr.keys} lack some of ${r.keys}`);
        pr.keys = r.keys;
        r.alerts.forEach((a, k) => {
          assert.ok(a.keys.every((x) => pr.alerts[k].keys.includes(x)));
          pr.alerts[k].keys = a.keys;
        });
      });
    }
    assert.deepEqual(np, nq);
    const [pa, qa] = await Promise.all([get(patrolBase, '/api/v1/alerts'), get(promBase, '/api/v1/alerts')]);
    const alerts = (d: unknown) => (d as { alerts: { labels: Record<string, string>; state: string }[] }).alerts.map((a) => sortKey(a.labels) + a.state).sort();
    assert.deepEqual(alerts(pa), alerts(qa));
    const filtered = await Promise.all([patrolBase, promBase].map((b) => get(b, '/api/v1/rules?type=record')));
    assert.deepEqual(normalize(filtered[0] as Groups).map((g) => g.rules.map((r) => r.name)), normalize(filtered[1] as Groups).map((g) => g.rules.map((r) => r.name)));
  });
});
