import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from './load.js';
import { truncate } from '../web/truncate.js';

const scrape = (password: string) => `scrape_configs:
  - job_name: a
    basic_auth: {username: u, password: ${password}}
    static_configs: [{targets: ['127.0.0.1:1']}]
`;

describe('secret fields', () => {
  it('accepts a numeric password as its text, as Prometheus does', () => {
    const r = parseConfig(scrape('987654321'), 'p.yml');
    assert.ok(r.ok, r.ok ? '' : r.errors.map(String).join('\n'));
    assert.equal(r.config.scrape_configs[0].basic_auth?.password?.reveal(), '987654321');
    assert.doesNotMatch(JSON.stringify(r.config), /987654321/);
  });

  it('never quotes a secret field in an error', () => {
    const r = parseConfig(scrape('{nested: TOPSECRET-1}'), 'p.yml');
    assert.ok(!r.ok);
    const text = r.errors.map(String).join('\n');
    assert.match(text, /expected a string, got a map/);
    assert.doesNotMatch(text, /TOPSECRET/);
  });
});

describe('truncate', () => {
  it('bounds long texts and says how much was cut', () => {
    assert.equal(truncate('short', 10), 'short');
    const t = truncate('x'.repeat(24_000_000));
    assert.ok(t.length < 5000);
    assert.match(t, /23995904 more characters/);
    assert.equal(truncate('a\u{1F600}', 2), 'a… (2 more characters)');
  });
});
