import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import { createLogger } from '../logger.js';
import { makeCerts, type CertSet } from '../probe/testdata/servers.js';
import { Patrol } from '../server.js';
import { needBinary } from '../testing/shared.js';

/** The fingerprint of the certificate the server presents now. */
function served(addr: string, ca: string): Promise<string> {
  const [host, port] = addr.split(':');
  return new Promise((ok, fail) => {
    const s = connect({ host, port: Number(port), ca, servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      ok(fp);
    });
    s.on('error', fail);
  });
}

describe('server.tls files reloaded on change', { skip: needBinary('openssl') }, () => {
  let certs: CertSet;
  let patrol: Patrol;
  let dir: string;
  before(async () => {
    certs = makeCerts();
    dir = mkdtempSync(join(tmpdir(), 'patrol-tlswatch-'));
    copyFileSync(join(certs.dir, 'good.pem'), join(dir, 'server.pem'));
    copyFileSync(join(certs.dir, 'good.key'), join(dir, 'server.key'));
    writeFileSync(join(dir, 'patrol.yml'), 'server:\n  tls:\n    cert_file: server.pem\n    key_file: server.key\n');
    patrol = new Patrol({ configFile: join(dir, 'patrol.yml'), dataDir: join(dir, 'data'), listen: '127.0.0.1:0', logger: createLogger('error', new PassThrough()), uiDir: null, tlsWatchIntervalMs: 50 });
    await patrol.start();
  });
  after(async () => {
    await patrol?.stop();
    certs?.cleanup();
  });

  it('serves a renewed certificate without a reload; a broken file keeps the old one', async () => {
    const first = await served(patrol.listen, certs.ca);
    // A broken write (half a file) is not taken: the running certificate stays.
    writeFileSync(join(dir, 'server.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n');
    await new Promise((ok) => setTimeout(ok, 300));
    assert.equal(await served(patrol.listen, certs.ca), first);
    // The renewal: new key and certificate, each moved into place.
    writeFileSync(join(dir, 'new.key'), certs.short.key);
    writeFileSync(join(dir, 'new.pem'), certs.short.cert);
    renameSync(join(dir, 'new.key'), join(dir, 'server.key'));
    renameSync(join(dir, 'new.pem'), join(dir, 'server.pem'));
    let now = first;
    for (let i = 0; i < 200 && now === first; i++) {
      await new Promise((ok) => setTimeout(ok, 50));
      now = await served(patrol.listen, certs.ca);
    }
    assert.notEqual(now, first, 'the new certificate is served');
  });
});
