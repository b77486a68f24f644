#!/usr/bin/env node
// Entry point. Runs the compiled server (dist/, made by `npm run build`, `npm start` and `npm test`) when it is
// at least as new as every source file; otherwise, or with BERTH_TSX=1, runs the TypeScript sources through
// tsx's loader (slower to start, about 50 MB more memory). The compiled server is dist/bundle/ (scripts/build-server.mjs:
// the program and the libraries it loads at start in a few minified modules, 10 MiB less memory than dist/cli/).
import { serverIsStale } from '../scripts/build-server.mjs';

const compiled = process.env.BERTH_TSX !== '1' && !serverIsStale();
if (compiled) {
  await import('../dist/bundle/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
