// The program bin/patrol.js runs: dist/ (as tsc compiled it) and the production dependencies it
// imports at start, in one minified file, dist/patrol.js. Measured with `npm run bench:alerts`: the
// modules' source text is a third of an idle heap, and one file keeps it and the parser's scratch
// memory smaller (README "Alert dispatcher"). Left out, loaded from node_modules when first used:
// the native SQLite binding and the libraries only some configurations need (gRPC and WebSocket
// probes, OIDC, email). dist/patrol.js.map maps stack traces back to src/ when Node runs with
// --enable-source-maps. dist/patrol.imports.json lists what it imports at run time.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = fileURLToPath(new URL('..', import.meta.url));
const { metafile } = await build({
  absWorkingDir: pkg,
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/patrol.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  external: ['better-sqlite3', '@grpc/grpc-js', 'ws', 'jose', 'nodemailer'],
  // CommonJS dependencies call require() for Node's own modules.
  banner: { js: "import { createRequire as __patrolRequire } from 'node:module'; const require = __patrolRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});
// What it still imports at run time (Node's modules and the left-out packages), for the check that
// the image, which has only production dependencies, can run it (src/web/deploy.test.ts).
const imports = new Set(Object.values(metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)));
writeFileSync(join(pkg, 'dist/patrol.imports.json'), JSON.stringify([...imports].sort(), null, 1) + '\n');
