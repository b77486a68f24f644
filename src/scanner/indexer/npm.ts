// npm packages: `node_modules/<name>/package.json` and `node_modules/@scope/<name>/package.json`,
// at any depth (nested node_modules, pnpm's .pnpm store). Test fixtures that packages ship inside
// their own test directories are not installed packages and are skipped.
import type { BufferScanner } from './types.js';

const CLAIM = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/]+\/package\.json$/;
const FIXTURE_DIRS = new Set(['test', 'tests', '__tests__', 'fixtures', '__fixtures__', 'testdata']);

/** True when a test/fixture directory sits inside a package (a package may itself be called `test`). */
function insideFixtures(p: string): boolean {
  const segs = p.slice(p.indexOf('node_modules/')).split('/');
  return segs.some(
    (seg, i) =>
      FIXTURE_DIRS.has(seg) && segs[i - 1] !== 'node_modules' && !(segs[i - 1]?.startsWith('@') && segs[i - 2] === 'node_modules'),
  );
}

export const npmScanner: BufferScanner = {
  name: 'npm',
  version: 1,
  kind: 'package',
  input: 'buffer',
  maxBytes: 4 * 1024 * 1024,
  // endsWith first: the pattern implies it, and claims() runs for every entry.
  claims: (p) => p.endsWith('/package.json') && CLAIM.test(p) && !insideFixtures(p),
  scan(data, _info, ctx) {
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      ctx.warn('package.json is not valid JSON');
      return {};
    }
    const { name, version } = (json ?? {}) as { name?: unknown; version?: unknown };
    if (typeof name !== 'string' || typeof version !== 'string' || !name || !version) return {};
    return { packages: [{ name, version, kind: 'binary', ecosystem: 'npm' }] };
  },
};
