// Python package versions (PEP 440 / the PyPA version specifier spec), parsed and ordered the way
// `packaging.version.Version` does.
//
// [N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local], with the spec's normalisations: case-insensitive,
// surrounding whitespace and a leading "v" ignored, "-", "_" and "." separators interchangeable,
// alpha/beta/c/pre/preview spellings, implicit numbers (1.0a == 1.0a0), "1.0-5" == "1.0.post5",
// rev/r == post, integers compared without leading zeros, and trailing ".0"s insignificant in the
// release (1.0.0 == 1).
//
// Ordering key (packaging's _cmpkey): epoch, release (trailing zeros stripped), pre-release
// (a dev release of a final version sorts before its pre-releases: 1.0.dev0 < 1.0a0), post-release
// (none sorts first), dev-release (none sorts last), local version (none sorts first; segments
// compared left to right, a number beats a string, strings compare case-folded).
//
// Total order fallback: a string that is not a PEP 440 version (packaging raises InvalidVersion;
// LegacyVersion is gone) sorts before every valid version; invalid strings order among themselves
// by UTF-16 code units.
import { type Cmp, type VersionScheme, cmpString, memoParse } from './scheme.ts';

export interface Pep440Version {
  epoch: bigint;
  release: bigint[];
  pre?: { label: 'a' | 'b' | 'rc'; n: bigint };
  post?: bigint;
  dev?: bigint;
  local?: (string | bigint)[];
}

// packaging's VERSION_PATTERN (applied to the lowercased string, so no `i` flag is needed and no
// non-ASCII letter can sneak in through case folding).
const RE = new RegExp(
  '^v?' +
    '(?:([0-9]+)!)?' + // epoch
    '([0-9]+(?:\\.[0-9]+)*)' + // release
    '(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?([0-9]+)?)?' + // pre
    '(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?' + // post
    '(?:[-_.]?(dev)[-_.]?([0-9]+)?)?' + // dev
    '(?:\\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$', // local
);

// Python's str.isspace() set (what packaging strips), which is not quite JavaScript's trim() set.
const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_SPACE_START = new RegExp(`^[${PY_WS}]+`);
const PY_SPACE_END = new RegExp(`[${PY_WS}]+$`);

const PRE: Record<string, 'a' | 'b' | 'rc'> = { a: 'a', alpha: 'a', b: 'b', beta: 'b', c: 'rc', rc: 'rc', pre: 'rc', preview: 'rc' };

export function parsePep440(input: string): Pep440Version | undefined {
  const s = input.replace(PY_SPACE_START, '').replace(PY_SPACE_END, '');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: deliberate: the range \x00-\x7f is ASCII; anything outside it is not a PEP 440 version
  if (/[^\x00-\x7f]/.test(s)) return undefined;
  const m = RE.exec(s.toLowerCase());
  if (!m) return undefined;
  const [, epoch, release, preL, preN, postN1, postL, postN2, devL, devN, local] = m;
  const v: Pep440Version = {
    epoch: epoch ? BigInt(epoch) : 0n,
    release: release.split('.').map((x) => BigInt(x)),
  };
  if (preL) v.pre = { label: PRE[preL], n: BigInt(preN ?? 0) };
  if (postN1 !== undefined) v.post = BigInt(postN1);
  else if (postL) v.post = BigInt(postN2 ?? 0);
  if (devL) v.dev = BigInt(devN ?? 0);
  if (local !== undefined) v.local = local.split(/[-_.]/).map((p) => (/^[0-9]+$/.test(p) ? BigInt(p) : p));
  return v;
}

/** The normalised string form (packaging's str(Version)), or undefined when invalid. */
export function normalizePep440(input: string): string | undefined {
  const v = parsePep440(input);
  if (!v) return undefined;
  let s = v.epoch !== 0n ? `${v.epoch}!` : '';
  s += v.release.join('.');
  if (v.pre) s += `${v.pre.label}${v.pre.n}`;
  if (v.post !== undefined) s += `.post${v.post}`;
  if (v.dev !== undefined) s += `.dev${v.dev}`;
  if (v.local) s += `+${v.local.join('.')}`;
  return s;
}

const cmpBig = (a: bigint, b: bigint): Cmp => (a < b ? -1 : a > b ? 1 : 0);
const PRE_RANK = { a: 0, b: 1, rc: 2 } as const;

export function comparePep440Parsed(x: Pep440Version, y: Pep440Version): Cmp {
  let c = cmpBig(x.epoch, y.epoch);
  if (c) return c;

  // Release: trailing zeros are insignificant; then element by element, shorter first.
  const rx = trimZeros(x.release);
  const ry = trimZeros(y.release);
  for (let i = 0; i < Math.min(rx.length, ry.length); i++) {
    c = cmpBig(rx[i], ry[i]);
    if (c) return c;
  }
  if (rx.length !== ry.length) return rx.length < ry.length ? -1 : 1;

  // Pre-release: -inf for a bare dev release, +inf for no pre-release, else (label, n).
  c = cmpNum(preKey(x), preKey(y));
  if (c) return c;
  if (x.pre && y.pre) {
    c = cmpBig(x.pre.n, y.pre.n);
    if (c) return c;
  }
  // Post-release: none sorts first.
  c = cmpOpt(x.post, y.post, -1);
  if (c) return c;
  // Dev-release: none sorts last.
  c = cmpOpt(x.dev, y.dev, 1);
  if (c) return c;
  // Local version: none sorts first; numbers beat strings; shorter first on a common prefix.
  if (!x.local || !y.local) return x.local ? 1 : y.local ? -1 : 0;
  for (let i = 0; i < Math.min(x.local.length, y.local.length); i++) {
    const a = x.local[i];
    const b = y.local[i];
    if (typeof a === 'bigint' && typeof b === 'bigint') c = cmpBig(a, b);
    else if (typeof a === 'bigint') c = 1;
    else if (typeof b === 'bigint') c = -1;
    else c = cmpString(a, b);
    if (c) return c;
  }
  return x.local.length === y.local.length ? 0 : x.local.length < y.local.length ? -1 : 1;
}

function trimZeros(r: bigint[]): bigint[] {
  let n = r.length;
  while (n > 0 && r[n - 1] === 0n) n--;
  return r.slice(0, n);
}

function preKey(v: Pep440Version): number {
  if (!v.pre && v.post === undefined && v.dev !== undefined) return -Infinity;
  if (!v.pre) return Infinity;
  return PRE_RANK[v.pre.label];
}

const cmpNum = (a: number, b: number): Cmp => (a < b ? -1 : a > b ? 1 : 0);

/** Compare optional bigints; `missing` is where an absent value sorts (-1 first, 1 last). */
function cmpOpt(a: bigint | undefined, b: bigint | undefined, missing: -1 | 1): Cmp {
  if (a === undefined || b === undefined) {
    if (a === b) return 0;
    return (a === undefined ? missing : -missing) as Cmp;
  }
  return cmpBig(a, b);
}

const parseCached = memoParse(parsePep440);

export function comparePep440(a: string, b: string): Cmp {
  const x = parseCached(a);
  const y = parseCached(b);
  if (x && y) return comparePep440Parsed(x, y);
  if (x) return 1;
  if (y) return -1;
  return cmpString(a, b);
}

export const pep440: VersionScheme = {
  name: 'pep440',
  aliases: ['pypi', 'python', 'pip'],
  compare: comparePep440,
  valid: (v) => parseCached(v) !== undefined,
};
