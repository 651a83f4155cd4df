#!/usr/bin/env -S MALLOC_ARENA_MAX=1 MALLOC_MMAP_THRESHOLD_=16384 node --max-semi-space-size=4 --optimize-for-size --liftoff-only
// The installed entry point: runs dist/patrol.js, the one-file build of the CLI (`npm run build`,
// run by `npm ci` through `prepare`; see scripts/bundle.mjs).
// The line above trades some CPU (which the alert dispatcher benchmark has to spare:
// `npm run bench:alerts`, README "Alert dispatcher") for resident memory; each setting was
// measured there with 20,000 alerts:
// - --max-semi-space-size=4: a young generation of 2×4 MB instead of V8's 2×16 (about -15 MB);
// - --optimize-for-size: V8 favours heap size over speed (smaller heap growth steps, -15 MB);
// - --liftoff-only: undici parses HTTP with llhttp compiled to WebAssembly, and V8's optimizing
//   tier-up of that module allocated a transient 25-35 MB at the first notifications; the
//   baseline WebAssembly compiler is enough for the parser (-20 MB at peak);
// - MALLOC_ARENA_MAX=1: glibc gives each thread that allocates (V8's GC and compiler helpers,
//   libuv's pool) an arena of its own, whose free space no other thread reuses (-8 MB at peak);
// - MALLOC_MMAP_THRESHOLD_=16384: blocks of 16 KB and more (the compiler's scratch zones, large
//   buffers) are mapped on their own and returned to the system when freed; glibc's default
//   threshold rises to 32 MB after the first large free, after which such blocks stay in the heap
//   and its holes are never returned (-10 MB idle and at peak). 16 KB rather than 32: the body
//   chunks of twenty abandoned 30 MB uploads (npm run bench -- edge) left 65 MB in the heap's
//   holes at 32 KB, none at 16 KB; the dispatcher benchmark reads the same at both.
// GNU env (coreutils 8.30 and later) and BSD env read `-S`; glibc reads the two variables at start,
// other C libraries ignore them. The benchmarks, the demo tour and deploy/ (whose tests check it)
// start Patrol with the same line.
import '../dist/patrol.js';
