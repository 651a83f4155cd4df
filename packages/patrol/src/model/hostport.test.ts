import assert from 'node:assert/strict';
import { test } from 'node:test';
import { joinHostPort, parseHostPort, parsePort, splitHostPort } from './hostport.js';

test('splitHostPort follows Go net.SplitHostPort', () => {
  assert.deepEqual(splitHostPort('db.internal:5432'), { host: 'db.internal', port: '5432' });
  assert.deepEqual(splitHostPort('[::1]:9090'), { host: '::1', port: '9090' });
  assert.deepEqual(splitHostPort(':9090'), { host: '', port: '9090' });
  assert.deepEqual(splitHostPort('host:'), { host: 'host', port: '' });
  assert.deepEqual(splitHostPort('host:http'), { host: 'host', port: 'http' });
  for (const bad of ['host', '::1:80', '[::1]', '[::1', '[::1]x:80', 'a[b:80', 'a]b:80', '']) assert.equal(splitHostPort(bad), null, bad);
});

test('parsePort takes 0 to 65535 in decimal only', () => {
  assert.equal(parsePort('0'), 0);
  assert.equal(parsePort('65535'), 65535);
  for (const bad of ['65536', '', '-1', 'http', '1e3', '123456']) assert.equal(parsePort(bad), null, bad);
});

test('hostPort checks addresses to connect to', () => {
  assert.deepEqual(parseHostPort('db.internal:5432'), { host: 'db.internal', port: 5432 });
  assert.deepEqual(parseHostPort('[2001:db8::1]:53'), { host: '2001:db8::1', port: 53 });
  for (const bad of ['db.internal', ':5432', 'host:0', 'host:65536', 'host:http', '::1']) assert.equal(parseHostPort(bad), null, bad);
  assert.deepEqual(parseHostPort('8.8.8.8', 53), { host: '8.8.8.8', port: 53 });
  assert.deepEqual(parseHostPort('[::1]', 53), { host: '::1', port: 53 });
  assert.deepEqual(parseHostPort('2001:db8::1', 53), { host: '2001:db8::1', port: 53 });
  assert.deepEqual(parseHostPort('8.8.8.8:5353', 53), { host: '8.8.8.8', port: 5353 });
  assert.equal(parseHostPort('', 53), null);
});

test('joinHostPort brackets IPv6 hosts', () => {
  assert.equal(joinHostPort('db.internal', 5432), 'db.internal:5432');
  assert.equal(joinHostPort('::1', 53), '[::1]:53');
  assert.deepEqual(splitHostPort(joinHostPort('2001:db8::1', 80)), { host: '2001:db8::1', port: '80' });
});
