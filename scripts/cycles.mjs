#!/usr/bin/env node
// Lists import cycles in packages/patrol/src (tests excluded): between files, and between
// directories (packages). Type-only imports count too, since they tie the modules together just
// the same for a reader. `node scripts/cycles.mjs` exits 1 when any file-level cycle exists.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const src = resolve(new URL('..', import.meta.url).pathname, 'packages/patrol/src');
const files = [];
(function walk(d) {
  for (const n of readdirSync(d)) {
    const p = join(d, n);
    if (statSync(p).isDirectory()) { if (n !== 'testdata') walk(p); }
    else if (n.endsWith('.ts') && !n.endsWith('.test.ts')) files.push(p);
  }
})(src);

const edges = new Map();
const importRe = /^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]/gm;
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const out = new Set();
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2];
    const target = resolve(dirname(f), spec.replace(/\.js$/, '.ts'));
    if (files.includes(target)) out.add(target);
  }
  edges.set(f, out);
}

// Tarjan's strongly connected components: every component of more than one node is a cycle.
function sccs(graph) {
  let index = 0;
  const idx = new Map(), low = new Map(), stack = [], on = new Set(), out = [];
  function visit(v) {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v), low.get(w))); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const c = [];
      let w;
      do { w = stack.pop(); on.delete(w); c.push(w); } while (w !== v);
      if (c.length > 1) out.push(c);
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const rel = (p) => relative(src, p);
const fileCycles = sccs(edges);
const pkg = (f) => (dirname(rel(f)) === '.' ? rel(f) : dirname(rel(f)).split('/')[0]);
const pkgGraph = new Map();
for (const [f, out] of edges) {
  const a = pkg(f);
  if (!pkgGraph.has(a)) pkgGraph.set(a, new Set());
  for (const t of out) if (pkg(t) !== a) pkgGraph.get(a).add(pkg(t));
}
const pkgCycles = sccs(pkgGraph);
console.log(`file-level cycles: ${fileCycles.length}`);
for (const c of fileCycles) console.log('  ' + c.map(rel).sort().join(' <-> '));
console.log(`package-level cycles: ${pkgCycles.length}`);
for (const c of pkgCycles) console.log('  ' + c.sort().join(' <-> '));
process.exit(fileCycles.length ? 1 : 0);
