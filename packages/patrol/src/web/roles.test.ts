import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { requiredRole, roleTableMarkdown } from './roles.js';

describe('route role table', () => {
  it('the README shows the table the code enforces', () => {
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
    const table = roleTableMarkdown();
    assert.ok(readme.includes(table), `README.md's role table differs from web/roles.ts; the right one is:\n\n${table}\n`);
  });

  it('routes not in the table need viewer to read and admin to write; query POSTs only read', () => {
    assert.equal(requiredRole('GET', '/api/new/thing', '/api/new/thing').need, 'viewer');
    assert.equal(requiredRole('POST', '/api/new/thing', '/api/new/thing').need, 'admin');
    assert.equal(requiredRole('POST', undefined, '/nowhere').need, 'admin');
    assert.equal(requiredRole('POST', '/api/v1/query', '/api/v1/query').need, 'viewer');
    assert.equal(requiredRole('POST', '/api/v2/silences', '/api/v2/silences').need, 'operator');
  });
});
