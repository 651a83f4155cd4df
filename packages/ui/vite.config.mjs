// Builds the dashboard into dist/ (served by the Patrol server at /). Hashed file names under
// assets/ let the server cache them for a year; uPlot is split out and loaded by the pages that chart.
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

export default defineConfig({
  plugins: [preact()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
  },
});
