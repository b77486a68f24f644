// RPM versions: [epoch:]version[-release], compared the way rpm does (rpmio/rpmvercmp.cc and
// lib/rpmver.c):
//
//  - epoch: leading digits followed by ':'; missing or empty means 0; compared with rpmvercmp
//    (numerically, since it is all digits);
//  - version and release: split at the LAST '-', each compared with rpmvercmp();
//  - rpmvercmp(): equal strings are equal; otherwise walk both strings: skip separators (anything
//    that is not an ASCII letter or digit, '~' or '^'); '~' sorts before everything, even the end
//    of the string (1.0~rc1 < 1.0); '^' sorts after the end of the string but before anything else
//    (1.0 < 1.0^git1 < 1.0.1); then take the next all-digit or all-letter segment of each: a digit
//    segment beats a letter segment, digit segments compare as integers (leading zeros ignored),
//    letter segments compare with strcmp (case-sensitive); when the segments run out, the string
//    with something left wins; if only separators differ, the versions are equal (1.0 == 1_0).
//  - bytes outside ASCII are separators, as in rpm (so 1.1.α == 1.1.β, rpm's own documented quirk).
//
// A missing release: rpm's dependency matching (rpmdsCompare) ignores the release when one side
// has none; that is not a total order (1.0 would equal both 1.0-1 and 1.0-2). `compare` follows
// rpm 4.18's rpmverCmp() (what `rpm.vercmp()` answers): a missing release sorts below every present
// one, even an empty one (1.0 < 1.0- < 1.0-0 < 1.0-1, 1:2.0 < 1:2.0-). Matchers that need rpm's
// dependency semantics can call `compareRpmEVR(a, b, { ignoreMissingRelease: true })`.
//
// `compareNEVRA` compares full name-[epoch:]version-release[.arch] strings the way claircore's
// internal/rpmver does (name, then EVR, then arch; a missing name or arch sorts first).
//
// Total order: rpmvercmp is defined on every string, so `compare` has no separate fallback; `valid`
// only reports whether the string is a clean EVR.
import { type Cmp, type VersionScheme, cmpDigits, sign } from './scheme.ts';

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isAlnum = (c: number) => isDigit(c) || isAlpha(c);
const TILDE = 126;
const CARET = 94;

/** rpm's rpmvercmp(): compare one version or release string. */
export function rpmvercmp(as: string, bs: string): Cmp {
  if (as === bs) return 0;
  const a = Buffer.from(as, 'utf8');
  const b = Buffer.from(bs, 'utf8');
  let i = 0;
  let j = 0;
  for (;;) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== TILDE && a[i] !== CARET) i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== TILDE && b[j] !== CARET) j++;

    // Tilde sorts before everything else.
    if (a[i] === TILDE || b[j] === TILDE) {
      if (a[i] !== TILDE) return 1;
      if (b[j] !== TILDE) return -1;
      i++;
      j++;
      continue;
    }
    // Caret is like tilde, except that the end of the string sorts below it.
    if (a[i] === CARET || b[j] === CARET) {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== CARET) return 1;
      if (b[j] !== CARET) return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < a.length && j < b.length)) break;

    const isnum = isDigit(a[i]);
    const test = isnum ? isDigit : isAlpha;
    const si = i;
    const sj = j;
    while (i < a.length && test(a[i])) i++;
    while (j < b.length && test(b[j])) j++;
    // a's segment is never empty here; b's can be, when the segment types differ:
    // a number is newer than letters.
    if (j === sj) return isnum ? 1 : -1;

    const sa = a.toString('latin1', si, i);
    const sb = b.toString('latin1', sj, j);
    const c = isnum ? cmpDigits(sa, sb) : sign(Buffer.compare(a.subarray(si, i), b.subarray(sj, j)));
    if (c !== 0) return c;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i < a.length ? 1 : -1;
}

export interface RpmEVR {
  epoch: string;
  version: string;
  /** undefined when the string had no '-'. */
  release?: string;
}

/** Split [epoch:]version[-release] the way rpm's parseEVR() does. */
export function parseRpmEVR(evr: string): RpmEVR {
  let k = 0;
  while (k < evr.length && isDigit(evr.charCodeAt(k))) k++;
  let epoch = '0';
  let rest = evr;
  if (evr[k] === ':') {
    epoch = k === 0 ? '0' : evr.slice(0, k);
    rest = evr.slice(k + 1);
  }
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return { epoch, version: rest };
  return { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) };
}

export function compareRpmEVR(a: string, b: string, opts: { ignoreMissingRelease?: boolean } = {}): Cmp {
  const pa = parseRpmEVR(a);
  const pb = parseRpmEVR(b);
  const c = rpmvercmp(pa.epoch, pb.epoch) || rpmvercmp(pa.version, pb.version);
  if (c !== 0) return c;
  if (pa.release === undefined || pb.release === undefined) {
    if (opts.ignoreMissingRelease || pa.release === pb.release) return 0;
    return pa.release === undefined ? -1 : 1;
  }
  return rpmvercmp(pa.release, pb.release);
}

// Architectures claircore's rpmver recognises at the end of a NEVRA; anything else is release.
const ARCHES = new Set(['aarch64', 'i386', 'i686', 'noarch', 'ppc64le', 'riscv', 's390x', 'src', 'x86_64']);

export interface RpmNEVRA extends RpmEVR {
  name?: string;
  arch?: string;
}

/**
 * Parse name-[epoch:]version-release[.arch], or [epoch:]version-release[.arch] (no name).
 * Returns undefined when there is no '-' at all (it cannot be version-release).
 */
export function parseRpmNEVRA(s: string): RpmNEVRA | undefined {
  const dashes = s.split('-').length - 1;
  if (dashes === 0) return undefined;
  let name: string | undefined;
  let rest = s;
  if (dashes >= 2) {
    const last = s.lastIndexOf('-');
    const prev = s.lastIndexOf('-', last - 1);
    name = s.slice(0, prev);
    rest = s.slice(prev + 1);
  }
  const dash = rest.indexOf('-');
  const ev = rest.slice(0, dash);
  let release = rest.slice(dash + 1);
  let epoch = '0';
  let version = ev;
  const colon = ev.indexOf(':');
  if (colon >= 0) {
    if (colon > 0) epoch = ev.slice(0, colon);
    version = ev.slice(colon + 1);
  }
  let arch: string | undefined;
  const dot = release.lastIndexOf('.');
  if (dot >= 0 && ARCHES.has(release.slice(dot + 1))) {
    arch = release.slice(dot + 1);
    release = release.slice(0, dot);
  }
  return { name, epoch, version, release, arch };
}

function cmpOptional(a: string | undefined, b: string | undefined): Cmp {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return rpmvercmp(a, b);
}

/** Compare two NEVRA (or EVRA) strings: name, epoch, version, release, arch. */
export function compareRpmNEVRA(a: string, b: string): Cmp {
  const pa = parseRpmNEVRA(a);
  const pb = parseRpmNEVRA(b);
  if (!pa || !pb) {
    // Not NEVRAs: fall back to the EVR comparison.
    return compareRpmEVR(a, b);
  }
  return (
    cmpOptional(pa.name, pb.name) ||
    rpmvercmp(pa.epoch, pb.epoch) ||
    rpmvercmp(pa.version, pb.version) ||
    rpmvercmp(pa.release ?? '', pb.release ?? '') ||
    cmpOptional(pa.arch, pb.arch)
  );
}

// rpm accepts these characters in Version and Release (rpmbuild's rpmCharCheck, minus macros).
const PART = /^[A-Za-z0-9._+~^]+$/;

export const rpm: VersionScheme = {
  name: 'rpm',
  aliases: [
    'red hat',
    'redhat',
    'rhel',
    'centos',
    'fedora',
    'rocky linux',
    'rocky',
    'almalinux',
    'alma',
    'oracle linux',
    'oracle',
    'ol',
    'amazon linux',
    'amzn',
    'suse',
    'opensuse',
    'sles',
    'sle',
    'photon os',
    'photon',
    'mariner',
    'azure linux',
    'azurelinux',
    'openeuler',
    'mageia',
    'openmandriva',
  ],
  compare: (a, b) => compareRpmEVR(a, b),
  valid(v: string): boolean {
    const m = /^(?:([0-9]*):)?(.*)$/s.exec(v)!;
    const rest = m[2];
    const dash = rest.lastIndexOf('-');
    const version = dash < 0 ? rest : rest.slice(0, dash);
    const release = dash < 0 ? undefined : rest.slice(dash + 1);
    if (!PART.test(version)) return false;
    return release === undefined || PART.test(release);
  },
};
