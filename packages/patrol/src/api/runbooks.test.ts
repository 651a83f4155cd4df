// Every pack alert's runbook_url points at a page Patrol serves, with an anchor for the alert.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { PACK_NAMES, packFile } from '../rules/packs.js';
import { parseRuleFile } from '../rules/parse.js';
import { anchorOf, registerRunbooks, renderRunbook } from './runbooks.js';

describe('runbooks of the rule packs', () => {
  const app = Fastify();
  registerRunbooks(app);

  it('every alert of every pack links to a served page with its own anchor', async () => {
    let alerts = 0;
    for (const pack of PACK_NAMES) {
      const parsed = parseRuleFile(readFileSync(packFile(pack), 'utf8'), `${pack}.rules.yml`);
      assert.deepEqual(parsed.errors, []);
      const res = await app.inject({ url: `/runbooks/${pack}` });
      assert.equal(res.statusCode, 200, pack);
      assert.match(String(res.headers['content-type']), /^text\/html/);
      const ids = new Set([...res.body.matchAll(/<h2 id="([^"]+)">/g)].map((m) => m[1]));
      for (const g of parsed.groups) {
        for (const r of g.rules) {
          if (!r.alert) continue;
          alerts++;
          assert.equal(r.annotations.runbook_url, `{{ $externalURL }}/runbooks/${pack}#${anchorOf(r.alert)}`, r.alert);
          assert.ok(ids.has(anchorOf(r.alert)), `${pack}: no runbook section for ${r.alert}`);
        }
      }
      // And no section for an alert the pack does not have.
      const names = new Set(parsed.groups.flatMap((g) => g.rules.filter((r) => r.alert).map((r) => anchorOf(r.alert!))));
      assert.deepEqual([...ids].filter((id) => !names.has(id)), [], pack);
    }
    assert.ok(alerts >= 30);
    const index = await app.inject({ url: '/runbooks' });
    for (const pack of PACK_NAMES) assert.ok(index.body.includes(`href="runbooks/${pack}"`));
  });

  it('answers 404 for anything but a pack name, never reading another file', async () => {
    for (const url of ['/runbooks/nope', '/runbooks/..%2Fpackage.json', '/runbooks/%2e%2e']) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
    }
  });

  it('renders headings, lists and code, escaping everything else', () => {
    const html = renderRunbook('# T <x>\n\n## AlertOne\n\nText with `a<b>` and\nmore.\n\n- one\n  continued\n- two `c`\n');
    assert.match(html, /<title>T &lt;x&gt;<\/title>/);
    assert.match(html, /<h2 id="alertone">AlertOne<\/h2>/);
    assert.match(html, /<p>Text with <code>a&lt;b&gt;<\/code> and more\.<\/p>/);
    assert.match(html, /<ul>\n<li>one continued<\/li>\n<li>two <code>c<\/code><\/li>\n<\/ul>/);
  });
});
