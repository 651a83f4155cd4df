// The rule packs' runbooks: every pack alert's `runbook_url` is
// `<external_url>/runbooks/<pack>#<alertname in lower case>`. The pages are Markdown files beside
// the packs (packs/runbooks/<pack>.md), served as HTML with one anchor per alert heading.

import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { PACK_NAMES, PACKS_DIR } from '../rules/packs.js';

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Inline Markdown: `code` only (escaped first, so nothing in the text becomes markup). */
function inline(s: string): string {
  return escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>');
}

/** The anchor of a heading: its text in lower case, letters and digits only (HTTPErrorRateHigh → httperrorratehigh). */
export function anchorOf(heading: string): string {
  return heading.toLowerCase().replace(/[^a-z0-9]+/g, '');
}

/**
 * The small Markdown the runbooks are written in: `#`/`##` headings (a `##` heading is an
 * alert, anchored by its name), paragraphs, `- ` lists whose items may continue on indented
 * lines, and `code`.
 */
export function renderRunbook(md: string): string {
  const out: string[] = [];
  let para: string[] = [];
  let items: string[] = [];
  const flush = (): void => {
    if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`);
    if (items.length) out.push(`<ul>\n${items.map((i) => `<li>${inline(i)}</li>`).join('\n')}\n</ul>`);
    para = [];
    items = [];
  };
  let title = 'Runbook';
  for (const raw of md.split('\n')) {
    const line = raw.trimEnd();
    const h = /^(#{1,3}) +(.*)$/.exec(line);
    if (h) {
      flush();
      const level = h[1].length;
      if (level === 1) title = h[2];
      out.push(level === 2 ? `<h2 id="${anchorOf(h[2])}">${inline(h[2])}</h2>` : `<h${level}>${inline(h[2])}</h${level}>`);
    } else if (line.startsWith('- ')) {
      if (para.length) flush();
      items.push(line.slice(2));
    } else if (line.trim() === '') {
      flush();
    } else if (items.length && /^\s/.test(line)) {
      items[items.length - 1] += ` ${line.trim()}`;
    } else {
      if (items.length) flush();
      para.push(line.trim());
    }
  }
  flush();
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${inline(title).replace(/<\/?code>/g, '')}</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em;line-height:1.5}code{background:#f3f3f3;padding:0 .2em}h2{margin-top:2em;border-top:1px solid #ddd;padding-top:1em}h2:target{background:#fff6d6}</style>
</head><body>
${out.join('\n')}
</body></html>
`;
}

export function registerRunbooks(app: FastifyInstance): void {
  const cache = new Map<string, string>();
  app.get('/runbooks', async (_req, reply) => {
    const links = PACK_NAMES.map((p) => `<li><a href="runbooks/${p}">${p}</a></li>`).join('\n');
    return reply.type('text/html; charset=utf-8').send(`<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Runbooks</title></head><body>\n<h1>Runbooks of the rule packs</h1>\n<ul>\n${links}\n</ul>\n</body></html>\n`);
  });
  app.get('/runbooks/:pack', async (req, reply) => {
    const pack = (req.params as { pack: string }).pack;
    // Only the packs' own names: the parameter never reaches the file system otherwise.
    if (!(PACK_NAMES as readonly string[]).includes(pack)) return reply.code(404).type('text/plain').send(`no runbook for pack ${JSON.stringify(pack.slice(0, 100))}\n`);
    let html = cache.get(pack);
    if (html === undefined) {
      html = renderRunbook(await readFile(`${PACKS_DIR}runbooks/${pack}.md`, 'utf8'));
      cache.set(pack, html);
    }
    return reply.type('text/html; charset=utf-8').send(html);
  });
}
