#!/usr/bin/env -S node --max-semi-space-size=4 --optimize-for-size --liftoff-only
// The installed entry point: runs the compiled CLI (built by `npm ci` through `prepare`).
// The V8 flags on the line above trade some CPU (which the alert dispatcher benchmark has to
// spare: `npm run bench:alerts`, README "Alert dispatcher") for resident memory; each was
// measured there with 20,000 alerts, peak RSS about 155 MB without them, 120 MB with:
// - --max-semi-space-size=4: a young generation of 2×4 MB instead of V8's 2×16 (about -15 MB);
// - --optimize-for-size: V8 favours heap size over speed (smaller heap growth steps, -15 MB);
// - --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly, and V8's optimizing
//   tier-up of that module allocated a transient 25-35 MB at the first notifications; the
//   baseline WebAssembly compiler is enough for the parser (-20 MB at peak).
// The benchmark reads the line above to start Patrol with the same flags.
import '../dist/cli/main.js';
