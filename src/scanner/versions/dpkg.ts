// Debian package versions: [epoch:]upstream_version[-debian_revision], compared the way dpkg does
// (lib/dpkg/version.c verrevcmp + lib/dpkg/parsehelp.c parseversion, dpkg 1.21).
//
//  - epoch: an integer (0..INT_MAX), compared numerically; missing means 0;
//  - upstream version and revision: split at the LAST '-'; a missing revision is "" (so 1.0 == 1.0-0);
//  - each part alternates non-digit runs and digit runs; non-digit runs are compared character by
//    character with '~' lowest (even below the end of the string), then the end of the string /
//    a digit, then letters (ASCII order), then bytes >= 0x80 (signed char, see order()), then every
//    other ASCII character (ASCII order + 256); digit runs are compared as unbounded integers.
//  - dpkg works on bytes, so do we (UTF-8).
//
// Validity follows dpkg: strings dpkg rejects with an error (empty, embedded blanks, bad epoch,
// empty version or revision) are invalid; strings dpkg only warns about (version does not start
// with a digit, characters outside [A-Za-z0-9.+~-:] / [A-Za-z0-9.+~]) are also reported invalid by
// `valid()`, but dpkg still compares them and so do we, with dpkg's answer.
//
// Total-order fallback: dpkg cannot compare strings it rejects with an error. We sort those below
// every string dpkg can parse (dpkg itself treats the empty string as lower than any version), and
// among themselves by their UTF-8 bytes.
import { type Cmp, type VersionScheme, cmpBytes, memoParse, sign, utf8 } from './scheme.ts';

export interface DpkgVersion {
  epoch: number;
  version: string;
  revision: string;
}

export type DpkgParse = { ok: true; value: DpkgVersion; warning?: string } | { ok: false; error: string };

const INT_MAX = 2147483647;
const isBlank = (c: string) => c === ' ' || c === '\t';
const isDigitCode = (c: number) => c >= 48 && c <= 57;
const isAlphaCode = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** Parse like dpkg's parseversion(): an error where dpkg errors, a warning where dpkg warns. */
export function parseDpkg(input: string): DpkgParse {
  let s = input;
  let start = 0;
  while (start < s.length && isBlank(s[start])) start++;
  if (start === s.length) return { ok: false, error: 'version string is empty' };
  let end = start;
  while (end < s.length && !isBlank(s[end])) end++;
  for (let p = end; p < s.length; p++) {
    if (!isBlank(s[p])) return { ok: false, error: 'version string has embedded spaces' };
  }
  s = s.slice(start, end);

  let epoch = 0;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    // strtol(): optional sign, then digits; it must stop exactly at the colon.
    const m = /^[+-]?[0-9]+/.exec(s);
    if (!m) return { ok: false, error: 'epoch in version is empty' };
    if (m[0].length !== colon) return { ok: false, error: 'epoch in version is not number' };
    const n = Number(m[0]);
    if (n < 0) return { ok: false, error: 'epoch in version is negative' };
    if (n > INT_MAX) return { ok: false, error: 'epoch in version is too big' };
    if (colon === s.length - 1) return { ok: false, error: 'nothing after colon in version number' };
    epoch = n === 0 ? 0 : n; // -0 is 0
    s = s.slice(colon + 1);
  }
  let version = s;
  let revision = '';
  const hyphen = s.lastIndexOf('-');
  if (hyphen >= 0) {
    version = s.slice(0, hyphen);
    revision = s.slice(hyphen + 1);
    if (revision === '') return { ok: false, error: 'revision number is empty' };
  }
  if (version === '') return { ok: false, error: 'version number is empty' };
  const value = { epoch, version, revision };
  if (!isDigitCode(version.charCodeAt(0))) {
    return { ok: true, value, warning: 'version number does not start with digit' };
  }
  for (let i = 1; i < version.length; i++) {
    const c = version.charCodeAt(i);
    if (!isDigitCode(c) && !isAlphaCode(c) && !'.-+~:'.includes(version[i])) {
      return { ok: true, value, warning: 'invalid character in version number' };
    }
  }
  for (let i = 0; i < revision.length; i++) {
    const c = revision.charCodeAt(i);
    if (!isDigitCode(c) && !isAlphaCode(c) && !'.+~'.includes(revision[i])) {
      return { ok: true, value, warning: 'invalid character in revision number' };
    }
  }
  return { ok: true, value };
}

// dpkg's order(): digits and the end of the string are 0, letters their code, '~' -1, others +256.
// dpkg reads the bytes through a `char`, which is signed on amd64 (and i386, and what libapt does
// everywhere): a byte >= 0x80 arrives as byte - 256, so it orders as the byte itself (128..255),
// after every letter and before every ASCII punctuation mark (289+).
function order(c: number | undefined): number {
  if (c === undefined || isDigitCode(c)) return 0;
  if (isAlphaCode(c)) return c;
  if (c === 126) return -1;
  if (c >= 0x80) return c;
  return c + 256;
}

/** dpkg's verrevcmp() over the UTF-8 bytes of two version (or revision) strings. */
export function verrevcmp(as: string, bs: string): Cmp {
  const a = utf8(as);
  const b = utf8(bs);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigitCode(a[i])) || (j < b.length && !isDigitCode(b[j]))) {
      const ac = order(a[i]);
      const bc = order(b[j]);
      if (ac !== bc) return sign(ac - bc);
      i++;
      j++;
    }
    while (a[i] === 48) i++;
    while (b[j] === 48) j++;
    while (i < a.length && j < b.length && isDigitCode(a[i]) && isDigitCode(b[j])) {
      if (!firstDiff) firstDiff = a[i] - b[j];
      i++;
      j++;
    }
    if (i < a.length && isDigitCode(a[i])) return 1;
    if (j < b.length && isDigitCode(b[j])) return -1;
    if (firstDiff) return sign(firstDiff);
  }
  return 0;
}

export function compareDpkgParsed(a: DpkgVersion, b: DpkgVersion): Cmp {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return verrevcmp(a.version, b.version) || verrevcmp(a.revision, b.revision);
}

const parseCached = memoParse(parseDpkg);

export function compareDpkg(a: string, b: string): Cmp {
  const pa = parseCached(a);
  const pb = parseCached(b);
  if (pa.ok && pb.ok) return compareDpkgParsed(pa.value, pb.value);
  if (pa.ok) return 1;
  if (pb.ok) return -1;
  return cmpBytes(utf8(a), utf8(b));
}

export const dpkg: VersionScheme = {
  name: 'dpkg',
  aliases: ['deb', 'debian', 'ubuntu'],
  compare: compareDpkg,
  valid(v: string): boolean {
    const p = parseCached(v);
    return p.ok && !p.warning;
  },
};
