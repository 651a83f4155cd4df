import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { loadConfigFile } from '../config/load.js';
import { Patrol } from '../server.js';
import { watchHealthy } from '../testing/healthy.js';
import { snappy, WriteRequestType } from '../api/remote_write.testutil.js';
import { parseCondition } from './conditions.js';
import { parseMatcher } from './matchers.js';
import { compileAnchored, compileSearch, estimateSize, MAX_PROGRAM_SIZE, MAX_QUERY_REGEXES, RegexError, type RegexMatch } from './regex.js';

const groups = (m: RegexMatch | null) => m && Array.from({ length: m.length }, (_, i) => m[i]);

const REJECTED: [string, RegExp][] = [
  ['(x{1000}){1000}', /invalid repeat count/],
  ['x{1001}', /invalid repeat count/],
  ['(?=a)b', /Perl syntax|\(\?=/],
  ['(?!a)b', /Perl syntax|\(\?!/],
  ['(?<=a)b', /\(\?<=/],
  ['(a)\\1', /invalid escape/],
  ['a++', /nested repetition/],
  ['[a', /missing closing \]/],
  ['(a', /missing closing \)/],
  ['a\\Z', /invalid escape/],
  ['('.repeat(1500) + 'a' + ')'.repeat(1500), /nests too deeply/],
  [Array(30).fill('[^a]{1000}').join(''), /too large/],
];

describe('user regexes (RE2 semantics)', () => {
  it('anchors fully and lets . match a newline, as Prometheus does', () => {
    const re = compileAnchored('foo.bar');
    assert.equal(re.test('foo\nbar'), true);
    assert.equal(re.test('xfoo\nbar'), false);
    assert.equal(re.test('foo\nbarx'), false);
    assert.equal(compileAnchored('a|b').test('ab'), false);
    assert.equal(compileAnchored('a|b').test('b'), true);
    assert.equal(compileAnchored('a|').test(''), true);
  });

  it('takes Go RE2 syntax: (?i), \\d, (?P<name>…), POSIX classes, \\A \\z, \\Q…\\E, \\pL', () => {
    assert.equal(compileAnchored('(?i)FoO').test('foo'), true);
    assert.equal(compileAnchored('\\d+').test('123'), true);
    assert.equal(compileAnchored('\\d+').test('12a'), false);
    assert.equal(compileAnchored('[[:alpha:]]+').test('abC'), true);
    assert.equal(compileAnchored('[[:alpha:]]+').test('ab1'), false);
    assert.equal(compileAnchored('\\Aab\\z').test('ab'), true);
    assert.equal(compileAnchored('\\Q.*\\E').test('.*'), true);
    assert.equal(compileAnchored('\\Q.*\\E').test('ab'), false);
    assert.equal(compileAnchored('\\pL+').test('héllo'), true);
    const m = compileAnchored('(?P<host>[^:]+):(\\d+)').exec('db1:9100');
    assert.ok(m);
    assert.equal(m[1], 'db1');
    assert.equal(m[2], '9100');
    assert.equal(m.groups?.host, 'db1');
    assert.equal(compileAnchored('(a)(b)?').exec('a')?.[2], undefined);
  });

  it('the string fast paths agree with the RE2 engine', () => {
    const inputs = ['', 'a', 'foo', 'foobar', 'barfoo', 'xfoox', 'foo\n', 'b', 'ab', 'a.b', 'a|b', 'axb', 'h1.example:9100', 'h1xexample:9100', '(a)'];
    for (const src of ['foo', '.*', '.+', 'foo|bar|', 'foo.*', '.*foo', 'a|b', '(.*)', '(.+)', 'a\\.b', 'a\\|b', '(a|foo|b)', '(?:a|foo)', 'h1\\.example:9100|b', '(h1\\.example:9100|a\\.b)', 'a\\.b.*', '.*a\\.b', '\\(a\\)', '(a)|(b)', 'a\\wb']) {
      // The same pattern wrapped in a group takes the RE2 engine.
      const slow = compileAnchored(`(?:${src})`);
      const fast = compileAnchored(src);
      for (const s of inputs) {
        assert.equal(fast.test(s), slow.test(s), `${src} on ${JSON.stringify(s)}`);
        assert.deepEqual(groups(fast.exec(s)), groups(slow.exec(s)), `${src} exec on ${JSON.stringify(s)}`);
      }
    }
  });

  it('rejects what RE2 rejects, with an error naming the pattern', () => {
    for (const [src, why] of REJECTED) {
      assert.throws(
        () => compileAnchored(src),
        (e: Error) => e instanceof RegexError && e.message.includes(JSON.stringify(src.slice(0, 40)).slice(0, -1)) && why.test(e.message),
        src.slice(0, 60),
      );
      assert.throws(() => compileSearch(src), RegexError);
      // Cached rejections are rejected again.
      assert.throws(() => compileAnchored(src), RegexError);
    }
    assert.throws(() => parseMatcher('a=~"(?=x)"'), /invalid regular expression "\(\?=x\)"/);
  });

  it('parses a matcher whose value holds a long run of spaces in one pass', () => {
    // `(.*?)\s*$` tried every split of the inner spaces: 20,000 took a quarter of a second, 200,000 half a minute.
    const inner = ' '.repeat(200_000);
    const m = parseMatcher(`job = x${inner}y ${inner}`);
    assert.equal(m.value, `x${inner}y`);
    assert.equal(parseMatcher(' a != "b c"  ').toString(), 'a!="b c"');
    assert.equal(parseMatcher('a=').value, '');
  });

  it('bounds the program size before compiling', () => {
    assert.ok(estimateSize('[^a]{1000}').size <= MAX_PROGRAM_SIZE);
    assert.ok(estimateSize(Array(30).fill('[^a]{1000}').join('')).size > MAX_PROGRAM_SIZE);
    assert.ok(estimateSize('((a{10}){10}){10}').size >= 1000);
    assert.equal(estimateSize('((a{10}){10}){11}').badRepeat, '{11}');
    assert.ok(estimateSize('abc|def').size >= 6);
    // A long alternation of host names (a dashboard variable) is fine.
    const hosts = Array.from({ length: 500 }, (_, i) => `host-${i}\\.example\\.com`).join('|');
    assert.equal(compileAnchored(`(${hosts}):9100`).test('host-42.example.com:9100'), true);
    assert.equal(compileAnchored(Array.from({ length: 5000 }, (_, i) => `h${i}`).join('|')).test('h4999'), true);
  });

  it('answers (a+)+b against a long value (no backtracking)', () => {
    const v = 'a'.repeat(30);
    assert.equal(compileAnchored('(a+)+b').test(v), false);
    assert.equal(compileAnchored('(a+)+b').exec(v), null);
    assert.equal(compileSearch('(a+)+b').test(v + 'x'.repeat(100_000)), false);
    assert.equal(compileSearch('(a|aa)*c').test(v), false);
  });

  it('probe conditions search unanchored with RE2 syntax and reject lookaround', () => {
    const c = parseCondition('[BODY] =~ "(?i)READY"');
    assert.equal(c.re!.test('status: ready\n'), true);
    assert.throws(() => parseCondition('[BODY] =~ "a(?=b)"'), /invalid regular expression "a\(\?=b\)"/);
    assert.throws(() => parseCondition('[BODY] =~ "(x{1000}){1000}"'), /invalid repeat count/);
  });
});

describe('user regexes through a running server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'patrol-regex-'));
  let patrol: Patrol;
  let base: string;
  const now = Date.now();

  before(async () => {
    patrol = new Patrol({ dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: pino({ level: 'silent' }) });
    await patrol.start();
    base = `http://${patrol.listen}`;
    const body = WriteRequestType.encode(
      WriteRequestType.create({
        timeseries: [
          { labels: [{ name: '__name__', value: 'm' }, { name: 'v', value: 'a'.repeat(30) }], samples: [{ value: 1, timestamp: now }] },
          { labels: [{ name: '__name__', value: 'm' }, { name: 'v', value: 'aab' }], samples: [{ value: 2, timestamp: now }] },
        ],
      }),
    ).finish();
    const r = await fetch(`${base}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
      body: snappy.compress(body),
    });
    assert.equal(r.status, 204, await r.text());
  });
  after(async () => {
    await patrol.stop();
  });

  const query = async (q: string) => {
    const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query: q, time: String(now / 1000) })}`);
    return { status: r.status, body: (await r.json()) as { status: string; errorType?: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } } };
  };

  it('(a+)+b in a matcher and in label_replace answers, and /-/healthy keeps answering', async () => {
    const w = watchHealthy(base, 10);
    const a = await query('m{v=~"(a+)+b"}');
    const b = await query('label_replace(m, "x", "$2", "v", "(a+)+(b)")');
    const c = await query('m{v!~"(a|aa)+c"}');
    const rep = await w.stop();
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.body.data!.result.map((s) => s.metric.v),
      ['aab'],
    );
    assert.equal(b.status, 200);
    assert.deepEqual(
      b.body.data!.result.map((s) => s.metric.x ?? '').sort(),
      ['', 'b'],
    );
    assert.equal(c.body.data!.result.length, 2);
    assert.ok(rep.answers > 0);
    assert.equal(rep.failures, 0);
    console.log(`# worst /-/healthy latency during the regex queries: ${rep.worstMs} ms`);
  });

  it('answers 400 bad_data for a pattern RE2 rejects', async () => {
    for (const q of ['m{v=~"(x{1000}){1000}"}', 'm{v=~"a(?=b)"}', 'label_replace(m, "x", "$1", "v", "(a)\\\\1")']) {
      const r = await query(q);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.errorType, 'bad_data', q);
      assert.match(r.body.error!, /regexp|regular expression/, q);
    }
  });

  it('match[] of series, labels, label values and federate, and Alertmanager filters, share one regex budget per request', async () => {
    // Each value alone is small; together they pass MAX_QUERY_REGEXES (issue 11: 2,000 distinct
    // patterns spent seconds compiling). One value per match[] shows the budget spans values.
    const u = Date.now();
    const sels = (n: number) => Array.from({ length: n }, (_, i) => `m{v!~"(a+)+b${i}_${u}"}`);
    const qs = (n: number, name = 'match[]') => new URLSearchParams(sels(n).map((v): [string, string] => [name, v])).toString();
    const w = watchHealthy(base, 10);
    const over = MAX_QUERY_REGEXES + 20;
    for (const path of ['/api/v1/series', '/api/v1/labels', '/api/v1/label/v/values']) {
      const ok = await fetch(`${base}${path}?${qs(MAX_QUERY_REGEXES)}`);
      assert.equal(ok.status, 200, `${path}: ${await ok.text()}`);
      const bad = await fetch(`${base}${path}?${qs(over)}`);
      const body = (await bad.json()) as { errorType: string; error: string };
      assert.equal(bad.status, 400, path);
      assert.equal(body.errorType, 'bad_data', path);
      assert.match(body.error, new RegExp(`invalid parameter "match\\[\\]": 1:\\d+: parse error: too many regular expressions in one query: more than ${MAX_QUERY_REGEXES} distinct patterns`), path);
    }
    // POSTed forms too (where a long list fits).
    const post = await fetch(`${base}/api/v1/series`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: qs(2000) });
    assert.equal(post.status, 400);
    assert.match(await post.text(), /too many regular expressions/);
    const ok = await fetch(`${base}/api/v1/series?${qs(3)}`);
    assert.deepEqual(((await ok.json()) as { data: Record<string, string>[] }).data.map((s) => s.v).sort(), ['a'.repeat(30), 'aab']);
    const fed = await fetch(`${base}/federate?${qs(over)}`);
    assert.equal(fed.status, 400);
    assert.match(await fed.text(), /too many regular expressions/);
    assert.equal((await fetch(`${base}/federate?${qs(MAX_QUERY_REGEXES)}`)).status, 200);
    const am = await fetch(`${base}/api/v2/alerts?${new URLSearchParams(Array.from({ length: over }, (_, i): [string, string] => ['filter', `v=~"(a+)+b${i}_${u}"`]))}`);
    assert.equal(am.status, 400);
    assert.match(await am.text(), /too many regular expressions/);
    const rep = await w.stop();
    assert.equal(rep.failures, 0);
  });
});

describe('user regexes in configuration (check config)', () => {
  it('reports an RE2-rejected relabel regex, probe condition and tcp expect', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patrol-regexcfg-'));
    const f = join(dir, 'patrol.yml');
    writeFileSync(
      f,
      `scrape_configs:
  - job_name: a
    static_configs: [{targets: ['127.0.0.1:1']}]
    relabel_configs:
      - source_labels: [__address__]
        regex: '(x{1000}){1000}'
        action: keep
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: '(?!go_).*'
        action: keep
probes:
  - name: web
    type: http
    target: http://127.0.0.1:1/
    conditions: ['[BODY] =~ "a(?<=b)"']
  - name: line
    type: tcp
    target: 127.0.0.1:1
    expect: '(a)\\1'
`,
    );
    const r = await loadConfigFile(f);
    assert.equal(r.ok, false);
    const text = r.ok ? '' : r.errors.map((e) => e.toString()).join('\n');
    assert.match(text, /invalid regular expression "\(x\{1000\}\)\{1000\}": invalid repeat count/);
    assert.match(text, /invalid regular expression "\(\?!go_\)\.\*"/);
    assert.match(text, /a\(\?<=b\)/);
    assert.match(text, /invalid regular expression "\(a\)\\\\1"/);
  });
});
