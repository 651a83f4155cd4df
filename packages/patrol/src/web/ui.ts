// Serves the web dashboard (packages/ui, built by Vite into static files) at `/`. The files are
// read once, at the first request, into memory with their gzip and brotli forms; hashed assets
// (/assets/NAME-HASH.js) are cached for a year, index.html never. The dashboard's own routes
// (/probes/NAME, /alerts…) answer index.html so a reload or a shared link opens the right page.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join, relative, sep } from 'node:path';
import { brotliCompressSync, constants as zc, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dashboardCsp } from './security.js';

/** Client routes of the dashboard: each answers index.html. */
export const UI_ROUTES = ['/', '/probes/*', '/alerts', '/silences', '/silences/*', '/rules', '/targets', '/history', '/explore', '/hosts', '/audit', '/login'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  type: string;
  raw: Buffer;
  gzip: Buffer | null;
  br: Buffer | null;
  immutable: boolean;
  etag: string;
  /** index.html only: its Content-Security-Policy, allowing its own inline scripts by hash. */
  csp?: string;
}

/** SHA-256 (base64) of each inline <script> (one without src) in an HTML page, for its CSP. */
export function inlineScriptHashes(html: string): string[] {
  const out: string[] = [];
  for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
    if (/\bsrc\s*=/i.test(m[1])) continue;
    out.push(createHash('sha256').update(m[2], 'utf8').digest('base64'));
  }
  return out;
}

/** Where the built dashboard is: the @patrol/ui package's dist folder, or null when it is not built. */
export function defaultUiDir(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('@patrol/ui/package.json');
    const dir = join(dirname(pkg), 'dist');
    return existsSync(join(dir, 'index.html')) ? dir : null;
  } catch {
    return null;
  }
}

function load(dir: string): Map<string, Asset> {
  const out = new Map<string, Asset>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) {
        walk(p);
        continue;
      }
      const rel = '/' + relative(dir, p).split(sep).join('/');
      const type = TYPES[extname(name)] ?? 'application/octet-stream';
      const raw = readFileSync(p);
      const text = /^(text\/|image\/svg|application\/json)/.test(type) && raw.length > 512;
      out.set(rel, {
        type,
        raw,
        gzip: text ? gzipSync(raw, { level: 9 }) : null,
        br: text ? brotliCompressSync(raw, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: raw.length } }) : null,
        immutable: rel.startsWith('/assets/'),
        etag: `"${raw.length.toString(36)}-${hash(raw)}"`,
        csp: type.startsWith('text/html') ? dashboardCsp(inlineScriptHashes(raw.toString('utf8'))) : undefined,
      });
    }
  };
  walk(dir);
  return out;
}

function hash(b: Buffer): string {
  let h = 2166136261;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 16777619);
  return (h >>> 0).toString(36);
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Patrol</title>
<p>Patrol is running, but its dashboard is not built. Run <code>npm run build</code> (or
<code>npm ci</code>) in the repository, then reload this page. The APIs under <code>/api/</code> work without it.</p>\n`;

/** Registers `/`, the client routes and `/assets/*`. `dir` null: `/` explains how to build the dashboard. */
export function registerUi(app: FastifyInstance, dir: string | null = defaultUiDir()): void {
  let assets: Map<string, Asset> | null = null;
  const get = (): Map<string, Asset> | null => {
    if (dir === null) return null;
    try {
      assets ??= load(dir);
    } catch {
      return null;
    }
    return assets;
  };
  const send = (req: FastifyRequest, reply: FastifyReply, a: Asset) => {
    reply.header('Cache-Control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    reply.header('ETag', a.etag);
    reply.header('Vary', 'Accept-Encoding');
    reply.header('X-Content-Type-Options', 'nosniff');
    if (a.csp) reply.header('Content-Security-Policy', a.csp);
    reply.type(a.type);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    const accept = String(req.headers['accept-encoding'] ?? '');
    if (a.br && /\bbr\b/.test(accept)) return reply.header('Content-Encoding', 'br').send(a.br);
    if (a.gzip && /\bgzip\b/.test(accept)) return reply.header('Content-Encoding', 'gzip').send(a.gzip);
    return reply.send(a.raw);
  };
  const index = async (req: FastifyRequest, reply: FastifyReply) => {
    const a = get()?.get('/index.html');
    if (!a) return reply.header('Content-Security-Policy', dashboardCsp([])).type('text/html; charset=utf-8').send(NOT_BUILT);
    return send(req, reply, a);
  };
  for (const url of UI_ROUTES) app.get(url, index);
  const file = async (req: FastifyRequest, reply: FastifyReply) => {
    let path: string;
    try {
      path = decodeURIComponent(req.url.split('?')[0]);
    } catch {
      path = '';
    }
    // A lookup in the map of built files: nothing outside the folder can be named.
    const a = get()?.get(path);
    if (!a) return reply.code(404).type('text/plain; charset=utf-8').send('Not Found\n');
    return send(req, reply, a);
  };
  app.get('/assets/*', file);
  app.get('/favicon.svg', file);
}
