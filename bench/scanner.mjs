#!/usr/bin/env node
// Runs bench/scanner.ts through tsx: `node bench/scanner.mjs`.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'scanner.ts')], { stdio: 'inherit' });
process.exit(r.status ?? 1);
