// HTTPS for every endpoint, with the semantics of Prometheus's web configuration
// (`tls_server_config`): server certificate and key, a client certificate policy
// (client_auth_type), the CA that verifies client certificates, TLS versions and cipher suites.
//
// A tls.Server in front of fastify's own http.Server: every connection that completes the
// handshake (and passes the client certificate policy) is handed to the http server, so its
// timeouts, routes and hooks are exactly those of plain HTTP.

import { readFileSync, unwatchFile, watchFile, type StatsListener } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { resolve } from 'node:path';
import { createSecureContext, createServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Component } from '../component.js';
import type { Config } from '../config/schema.js';
import type { ServerConfig } from '../config/patrol.js';

export type ServerTlsConfig = NonNullable<ServerConfig['tls']>;

const VERSIONS = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' } as const;

/** Go's cipher suite names (as in Prometheus's web configuration) → OpenSSL's. */
const GO_CIPHERS: Record<string, string> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/** TLS 1.3's suites are not configurable in Go; they stay on whatever cipher_suites says. */
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256';

export interface TlsSettings {
  context: SecureContextOptions;
  requestCert: boolean;
  rejectUnauthorized: boolean;
  clientAuth: ServerTlsConfig['client_auth_type'];
}

function readNamed(key: string, file: string, dir: string): string {
  const path = resolve(dir, file);
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    throw new Error(`server.tls.${key} ${JSON.stringify(path)}: ${why}`);
  }
}

/**
 * Reads the files and builds the TLS options; every error names the setting and the file
 * (a missing file, a key that does not parse or does not match the certificate, a bad CA, an
 * unknown cipher suite). Relative paths resolve against `dir` (the config file's folder).
 */
/** The files server.tls names, resolved against the config file's folder. */
export function tlsFiles(cfg: ServerTlsConfig, dir: string): string[] {
  return [cfg.cert_file, cfg.key_file, cfg.client_ca_file].filter((f): f is string => f !== undefined).map((f) => resolve(dir, f));
}

export function tlsSettings(cfg: ServerTlsConfig, dir: string): TlsSettings {
  const cert = cfg.cert_file !== undefined ? readNamed('cert_file', cfg.cert_file, dir) : (cfg.cert ?? '');
  const key = cfg.key_file !== undefined ? readNamed('key_file', cfg.key_file, dir) : (cfg.key?.reveal() ?? '');
  const ca = cfg.client_ca_file !== undefined ? readNamed('client_ca_file', cfg.client_ca_file, dir) : undefined;
  const certName = cfg.cert_file !== undefined ? `cert_file ${JSON.stringify(resolve(dir, cfg.cert_file))}` : 'cert';
  const keyName = cfg.key_file !== undefined ? `key_file ${JSON.stringify(resolve(dir, cfg.key_file))}` : 'key';
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`server.tls.${certName}: no PEM certificate in it`);
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) throw new Error(`server.tls.${keyName}: no PEM private key in it`);
  let ciphers: string | undefined;
  if (cfg.cipher_suites !== undefined) {
    const unknown = cfg.cipher_suites.filter((c) => !Object.hasOwn(GO_CIPHERS, c));
    if (unknown.length > 0) throw new Error(`server.tls.cipher_suites: unknown ${unknown.map((c) => JSON.stringify(c.slice(0, 100))).join(', ')} (known: ${Object.keys(GO_CIPHERS).join(', ')})`);
    ciphers = [TLS13_SUITES, ...cfg.cipher_suites.map((c) => GO_CIPHERS[c])].join(':');
  }
  const context: SecureContextOptions = {
    cert,
    key,
    ca,
    minVersion: VERSIONS[cfg.min_version],
    maxVersion: cfg.max_version ? VERSIONS[cfg.max_version] : undefined,
    ciphers,
    honorCipherOrder: cfg.prefer_server_cipher_suites,
  };
  try {
    createSecureContext(context);
  } catch (e) {
    const msg = (e as Error).message;
    if (/key values mismatch/i.test(msg)) throw new Error(`server.tls: ${keyName} does not belong to the certificate in ${certName}`);
    if (/cert|x509|PEM/i.test(msg) && ca !== undefined && !/key/i.test(msg)) throw new Error(`server.tls: ${certName} or client_ca_file ${JSON.stringify(resolve(dir, cfg.client_ca_file!))} does not parse: ${msg}`);
    throw new Error(`server.tls (${certName}, ${keyName}): ${msg}`);
  }
  const t = cfg.client_auth_type;
  return {
    context,
    requestCert: t !== 'NoClientCert',
    rejectUnauthorized: t === 'RequireAndVerifyClientCert',
    clientAuth: t,
  };
}

/** Why a connection breaks the client certificate policy, or null (checked after the handshake). */
function clientCertRefusal(socket: TLSSocket, clientAuth: TlsSettings['clientAuth']): string | null {
  if (clientAuth === 'NoClientCert' || clientAuth === 'RequestClientCert') return null;
  const cert = socket.getPeerCertificate();
  const given = cert !== null && cert !== undefined && Object.keys(cert).length > 0;
  if (clientAuth === 'RequireAnyClientCert') return given ? null : 'no client certificate';
  // VerifyClientCertIfGiven; RequireAndVerifyClientCert is refused by the handshake itself.
  if (given && !socket.authorized) return `client certificate not verified: ${String(socket.authorizationError)}`;
  return null;
}

/** The HTTPS listener in front of fastify's http.Server. */
export class TlsFront {
  readonly server: TlsServer;
  private settings: TlsSettings;
  private readonly sockets = new Set<TLSSocket>();
  private refusedLogged = 0;

  constructor(
    http: HttpServer,
    settings: TlsSettings,
    private readonly log: Logger,
  ) {
    this.settings = settings;
    this.server = createServer({ ...settings.context, requestCert: settings.requestCert, rejectUnauthorized: settings.rejectUnauthorized });
    this.server.on('secureConnection', (socket: TLSSocket) => {
      const why = clientCertRefusal(socket, this.settings.clientAuth);
      if (why) {
        this.noteRefusal(socket, why);
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      http.emit('connection', socket);
    });
    // Plain HTTP, a failed handshake or a refused client certificate: the connection is closed.
    this.server.on('tlsClientError', (err, socket) => {
      this.noteRefusal(socket, err.message);
      socket.destroy();
    });
  }

  /** One log line per minute at most, so a scanner cannot flood the log. */
  private noteRefusal(socket: TLSSocket, why: string): void {
    const now = Date.now();
    if (now - this.refusedLogged < 60_000) return;
    this.refusedLogged = now;
    this.log.warn({ remote: socket.remoteAddress, reason: why.slice(0, 300) }, 'TLS connection refused');
  }

  /** New certificate, key, CA, versions or client policy; connections already open keep theirs. */
  update(settings: TlsSettings): void {
    this.server.setSecureContext(settings.context);
    const s = this.server as TlsServer & { requestCert: boolean; rejectUnauthorized: boolean };
    s.requestCert = settings.requestCert;
    s.rejectUnauthorized = settings.rejectUnauthorized;
    this.settings = settings;
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((ok, fail) => {
      this.server.once('error', fail);
      this.server.listen(port, host, () => {
        this.server.off('error', fail);
        ok();
      });
    });
  }

  private watched: { path: string; listener: StatsListener }[] = [];

  /**
   * Re-reads the certificate, key and client CA when one of the files changes (a renewal by
   * certbot or cert-manager needs no reload). `reread` builds the settings from the running
   * configuration; a file that does not parse (say, half written) keeps the old certificate
   * and is logged, and the next change tries again.
   */
  watch(paths: string[], reread: () => TlsSettings | null, intervalMs: number): void {
    for (const w of this.watched) unwatchFile(w.path, w.listener);
    this.watched = paths.map((path) => {
      const listener: StatsListener = (cur, prev) => {
        if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
        try {
          const settings = reread();
          if (!settings) return;
          this.update(settings);
          this.log.info({ file: path }, 'TLS files changed; new certificate in use');
        } catch (e) {
          this.log.error({ file: path, err: (e as Error).message }, 'TLS files changed but do not load; keeping the running certificate');
        }
      };
      watchFile(path, { interval: intervalMs, persistent: false }, listener);
      return { path, listener };
    });
  }

  /** Stops accepting and drops the open connections. */
  close(): Promise<void> {
    for (const w of this.watched) unwatchFile(w.path, w.listener);
    this.watched = [];
    for (const s of this.sockets) s.destroy();
    return new Promise((ok) => this.server.close(() => ok()));
  }
}

/**
 * server.tls on reload: the files are read again (a renewed certificate is picked up) and a bad
 * file rejects the reload, naming it. Turning TLS on or off needs a restart (the listener's
 * protocol is chosen at start), and a reload that tries is rejected saying so.
 */
export function tlsComponent(front: () => TlsFront | null): Component {
  let prepared: TlsSettings | null = null;
  return {
    name: 'server.tls',
    prepareConfig(cfg: Config, ctx) {
      const f = front();
      const tls = cfg.server.tls;
      if ((tls !== undefined) !== (f !== null)) {
        throw new Error(`server.tls: turning HTTPS ${tls ? 'on' : 'off'} needs a restart (the listener is ${f ? 'HTTPS' : 'plain HTTP'})`);
      }
      prepared = tls ? tlsSettings(tls, ctx.dir) : null;
      return {
        commit: () => {
          if (f && prepared) f.update(prepared);
        },
        discard: () => {
          prepared = null;
        },
      };
    },
    applyConfig() {},
    stop() {},
  };
}
