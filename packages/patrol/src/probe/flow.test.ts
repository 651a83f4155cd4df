// Multi-step flows against a real local HTTP API: log in, take the token, call the API with it,
// log out; captures by JSON path, header and regex; secrets masked; the first failing step named;
// cleanup always run; each bad input the issue lists is a failed result or a config error.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import type http from 'node:http';
import { compileProbe, runProbe, type ProbeResult } from './run.js';
import { probeErrors, probesFromYaml } from './testdata/helpers.js';
import { startHttp } from './testdata/servers.js';

const PASSWORD = 's3cr3t-pa55word';
/** A flow's first step: POST /login with this body (YAML, indented for the steps list). */
const login = (body: string) => `      - name: login\n        method: POST\n        url: /login\n        body: '${body}'`;

interface Seen {
  method: string;
  url: string;
  auth?: string;
  body: string;
}

describe('flow probes against a real HTTP API', () => {
  let srv: Awaited<ReturnType<typeof startHttp>>;
  let seen: Seen[] = [];
  const tokens = new Set<string>();
  let n = 0;
  let dir: string;
  let itemsStatus = 200;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patrol-flow-'));
    writeFileSync(join(dir, 'password.txt'), PASSWORD + '\n');
    srv = await startHttp((req: http.IncomingMessage, res: http.ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
        const json = (code: number, v: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(code, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(v));
        };
        const bearer = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
        if (req.url === '/login' && req.method === 'POST') {
          let creds: { user?: string; password?: string } = {};
          try {
            creds = JSON.parse(body) as typeof creds;
          } catch {
            /* rejected below */
          }
          if (creds.user !== 'alice' || creds.password !== PASSWORD) return json(401, { error: `bad credentials for ${creds.user} with ${creds.password}` });
          const token = `tok-${++n}`;
          tokens.add(token);
          return json(200, { data: { token } }, { 'x-session': `sid=S${n}; Path=/` });
        }
        if (req.url === '/items') {
          if (!tokens.has(bearer)) return json(401, { error: 'no session' });
          return json(itemsStatus, { items: [{ id: 42, name: 'first' }] });
        }
        if (req.url?.startsWith('/items/')) {
          if (!tokens.has(bearer)) return json(401, { error: 'no session' });
          return json(200, { id: Number(req.url.slice(7)), owner: 'alice' });
        }
        if (req.url === '/logout' && req.method === 'POST') {
          if (!tokens.delete(bearer)) return json(401, { error: 'no session' });
          return json(200, { ok: true });
        }
        if (req.url?.startsWith('/echo/')) {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end(`you sent ${req.url.slice(6)}`);
        }
        if (req.url === '/hang') return;
        if (req.url === '/nl') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          return res.end('a\r\nX-Injected: 1');
        }
        if (req.url === '/html') {
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end('<html><input name="csrf" value="abc123"></html>');
        }
        json(404, { error: 'not found' });
      });
    });
  });
  after(async () => {
    await srv.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen = [];
    itemsStatus = 200;
  });

  const LOGOUT = `    cleanup:
      - name: logout
        method: POST
        url: /logout
        headers: {authorization: 'Bearer \${token}'}
`;
  // Steps that capture no token get no logout cleanup (it would read an undefined variable).
  const flow = (extra = '', steps?: string) => `  - name: api-flow
    type: flow
    target: ${srv.url}/
    timeout: 3s
    variables: {user: alice}
    secret_files: {password: password.txt}
${extra}    steps:
${
  steps ??
  `      - name: login
        method: POST
        url: /login
        headers: {content-type: application/json}
        body: '{"user":"\${user}","password":"\${password}"}'
        conditions: ['[STATUS] == 200']
        capture:
          token: {json: $.data.token, secret: true}
          sid: {header: X-Session, regex: 'sid=([^;]+)'}
      - name: list
        url: /items
        headers: {authorization: 'Bearer \${token}'}
        conditions: ['[STATUS] == 200', '$.items[0].id == 42']
        capture:
          item: {json: '$.items[0].id'}
      - name: get
        url: '/items/\${item}'
        headers: {authorization: 'Bearer \${token}'}
        conditions: ['$.owner == alice']
`
}${steps === undefined || /\btoken: \{json/.test(steps) ? LOGOUT : ''}`;

  const run = async (yaml: string): Promise<ProbeResult> => {
    const [cfg] = probesFromYaml(yaml);
    return runProbe(compileProbe(cfg, dir));
  };
  const step = (r: ProbeResult, name: string, metric = 'probe_flow_step_success') => r.samples.find((s) => s.name === metric && s.labelValue === name)?.value;

  it('logs in, takes the token, calls the API with it, and logs out', async () => {
    const r = await run(flow());
    assert.equal(r.reason, '');
    assert.equal(r.success, true);
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      ['POST /login', 'GET /items', 'GET /items/42', 'POST /logout'],
    );
    assert.equal(JSON.parse(seen[0].body).password, PASSWORD);
    assert.match(seen[1].auth!, /^Bearer tok-\d+$/);
    assert.equal(seen[3].auth, seen[1].auth);
    assert.equal(tokens.size, 0, 'logged out');
    for (const s of ['login', 'list', 'get', 'cleanup:logout']) {
      assert.equal(step(r, s), 1, s);
      assert.equal(step(r, s, 'probe_flow_step_status_code'), 200, s);
      assert.ok(step(r, s, 'probe_flow_step_duration_seconds')! > 0, s);
    }
    assert.equal(r.samples.find((s) => s.name === 'probe_flow_failed_step')?.value, 0);
  });

  it('fails at the first failing step, names it, still runs cleanup', async () => {
    itemsStatus = 500;
    const r = await run(flow());
    assert.equal(r.success, false);
    assert.equal(r.reason, 'step 2 "list": status 500 not in [200]');
    assert.deepEqual(
      seen.map((s) => `${s.method} ${s.url}`),
      ['POST /login', 'GET /items', 'POST /logout'],
    );
    assert.equal(tokens.size, 0, 'cleanup logged out');
    assert.equal(step(r, 'list'), 0);
    assert.equal(step(r, 'get'), undefined);
    assert.equal(r.samples.find((s) => s.name === 'probe_flow_failed_step')?.value, 2);
  });

  it('masks secrets (file, env, captured) in reasons', async () => {
    process.env.PATROL_FLOW_TEST_PW = 'env-pw-xyz';
    try {
      // The server echoes the credentials in its 401 body, which the failing condition quotes.
      const r = await run(
        flow(
          '',
          `${login('{"user":"bob","password":"${password}"}')}
        conditions: ['$.error == ok']
      - name: never
        url: /items
        headers: {x-pw: '\${env:PATROL_FLOW_TEST_PW}'}
`,
        ),
      );
      assert.equal(r.success, false);
      assert.ok(!r.reason.includes(PASSWORD), r.reason);
      assert.match(r.reason, /^step 1 "login": .*<secret>/);
      // An env secret quoted back.
      const r2 = await run(
        flow(
          '',
          `${login('{"user":"${env:PATROL_FLOW_TEST_PW}"}')}
        conditions: ['$.error == ok']
`,
        ),
      );
      assert.ok(!r2.reason.includes('env-pw-xyz'), r2.reason);
      assert.match(r2.reason, /<secret>/);
      // A token captured as secret, quoted back by a later step's failing condition.
      const r3 = await run(
        flow(
          '',
          `${login('{"user":"alice","password":"${password}"}')}
        capture: {token: {json: $.data.token, secret: true}}
      - name: echo
        url: '/echo/\${token}'
        conditions: ['[BODY] == nothing']
`,
        ),
      );
      assert.match(r3.reason, /^step 2 "echo": .*you sent <secret>/);
      assert.ok(!/tok-\d/.test(r3.reason), r3.reason);
      // And the check config view masks secrets; the file's content is nowhere in the config.
    } finally {
      delete process.env.PATROL_FLOW_TEST_PW;
    }
  });

  it('captures with a regex over the body', async () => {
    const r = await run(
      flow(
        '',
        `      - name: page
        url: /html
        capture: {csrf: {regex: 'name="csrf" value="([^"]+)"'}}
      - name: use
        url: '/items/\${csrf}'
        conditions: ['[STATUS] == 401']
`,
      ),
    );
    assert.equal(r.reason, '');
    assert.equal(seen[1].url, '/items/abc123');
  });

  it('bad inputs are failed results naming the step and the capture', async () => {
    const cases: [string, RegExp][] = [
      [`      - name: s\n        url: /items/1\n        conditions: ['[STATUS] == 401']\n        capture: {x: {json: $.missing.path}}\n`, /^step 1 "s": capture x: \$\.missing\.path does not exist in the response$/],
      [`      - name: s\n        url: /html\n        capture: {x: {json: $.a}}\n`, /^step 1 "s": capture x: the body is not JSON/],
      [`      - name: s\n        url: /html\n        capture: {x: {regex: 'nomatch(\\d+)'}}\n`, /^step 1 "s": capture x: \/nomatch\(\\d\+\)\/ does not match the body$/],
      [`      - name: s\n        url: /html\n        capture: {x: {header: X-Nope}}\n`, /^step 1 "s": capture x: the response has no x-nope header$/],
      [`      - name: s\n        url: /html\n        capture: {x: {json: $.a}}\n        conditions: ['[STATUS] == 200']\n`, /the body is not JSON/],
    ];
    for (const [steps, re] of cases) {
      const r = await run(flow('', steps));
      assert.equal(r.success, false);
      assert.match(r.reason, re);
    }
    // A captured value with a line break cannot reach a header.
    seen = [];
    const r = await run(
      flow(
        '',
        `      - name: page
        url: /nl
        capture: {v: {regex: '(a\\s+X-Injected: 1)'}}
      - name: inject
        url: /items
        headers: {x-v: '\${v}'}
`,
      ),
    );
    assert.equal(r.reason, 'step 2 "inject": header x-v: the value contains a line break');
    assert.equal(seen.length, 1, 'the request was not sent');
  });

  it('cleanup whose capture was never taken is skipped with a reason; a failing cleanup fails a passing flow', async () => {
    const r = await run(
      flow(
        '',
        `${login('{"user":"nobody"}')}
        capture: {token: {json: $.data.token}}
`,
      ),
    );
    assert.equal(r.reason, 'step 1 "login": status 401 not in [2xx]');
    assert.equal(step(r, 'cleanup:logout'), 0);
    assert.deepEqual(
      seen.map((s) => s.url),
      ['/login'],
    );
    const r2 = await run(
      flow(
        '',
        `${login('{"user":"alice","password":"${password}"}')}
        capture: {token: {json: $.data.token}}
      - name: logout-early
        method: POST
        url: /logout
        headers: {authorization: 'Bearer \${token}'}
`,
      ),
    );
    assert.equal(r2.success, false);
    assert.equal(r2.reason, 'cleanup step "logout": status 401 not in [2xx]');
  });

  it('a timeout names the step and its phase; cleanup still runs afterwards', async () => {
    const r = await run(
      flow(
        '',
        `${login('{"user":"alice","password":"${password}"}')}
        capture: {token: {json: $.data.token}}
      - name: slow
        url: /hang
`,
      ).replace('timeout: 3s', 'timeout: 700ms'),
    );
    assert.equal(r.success, false);
    assert.equal(r.reason, 'timeout after 700ms during step 2 "slow": waiting for the response');
    const end = Date.now() + 5000;
    while (!seen.some((s) => s.url === '/logout') && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    assert.ok(seen.some((s) => s.url === '/logout'), 'cleanup ran after the timeout');
    assert.equal(tokens.size, 0);
  });

  it('rejects a variable never captured or captured later, with the step and the name', () => {
    const errs = probeErrors(
      flow(
        '',
        `      - name: first
        url: '/items/\${item}'
      - name: second
        url: /items
        headers: {authorization: 'Bearer \${nothing}'}
        capture: {item: {json: '$.items[0].id'}}
`,
      ),
    ).join('\n');
    assert.match(errs, /step "first": \$\{item\} is never defined.*a later step captures it/);
    assert.match(errs, /step "second": \$\{nothing\} is never defined/);
    const bad = probeErrors(
      flow(
        '',
        `      - name: a
        url: /x
        capture: {t: {json: 'items[0'}, u: {}, w: {regex: '(a'}, v: {json: '$.a.*'}}
      - name: a
        url: /y
`,
      ),
    ).join('\n');
    assert.match(bad, /must start with \$/);
    assert.match(bad, /needs json, header or regex/);
    assert.match(bad, /regex|parenthes/i);
    assert.match(bad, /wildcard/);
    assert.match(bad, /step name "a" is used twice/);
  });

  it('a missing secret file or env variable is a configuration error naming it, not its value', () => {
    const [cfg] = probesFromYaml(flow().replace('password.txt', 'nope.txt'));
    assert.throws(() => compileProbe(cfg, dir), /secret_files\.password: cannot read "nope\.txt": ENOENT/);
    const [cfg2] = probesFromYaml(flow('', `      - name: s\n        url: /x\n        headers: {x: '\${env:PATROL_FLOW_UNSET_VAR}'}\n`));
    assert.throws(() => compileProbe(cfg2, dir), /step "s": \$\{env:PATROL_FLOW_UNSET_VAR\} is not set/);
  });
});
