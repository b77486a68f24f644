// Every source file below a directory (for the boundary tests: crypto, layering); [] when it does not exist.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export function sourceFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) return n === 'node_modules' ? [] : sourceFiles(p);
    return /\.(ts|tsx|js|mjs|cjs)$/.test(n) ? [p] : [];
  });
}
