// Alpine (apk) package versions: digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}, compared the
// way apk-tools 2.14 / 3.x does (src/version.c; re-implemented here, not copied).
//
// A version is read as a sequence of tokens, each with a type; the types in grammar order are
// initial-digit, digit, letter, suffix, suffix-number, commit-hash, revision, end (and "invalid"
// when the grammar is broken). Two versions are compared token by token while the types agree:
//  - numbers compare as integers, except a non-initial digit group with a leading zero on either
//    side, which compares as a string (Gentoo rule: 1.01 < 1.1 is not numeric);
//  - a letter compares by its character; a commit hash as a string;
//  - suffixes rank alpha < beta < pre < rc < (no suffix) < cvs < svn < git < hg < p.
// When the types first differ (or one side ends), the side carrying a pre-release suffix
// (alpha/beta/pre/rc) is older; otherwise the side whose token type comes LATER in the grammar is
// older (so 1.0 < 1.0.1, 1.0 < 1.0a, 1.0 < 1.0-r1, 1.0_alpha < 1.0). An invalid token counts as
// later than the end, so a version that breaks the grammar is older than its valid prefix, and
// two versions that break it at the same place are equal to apk.
//
// Total order: apk's algorithm orders every string (that is how apk-tools' own vectors "1.0 < 1.0bc"
// and "23_foo > 4_beta" are answered). When apk calls two different strings equal and at least one
// is invalid, we break the tie by their bytes so that sorting is deterministic; valid versions that
// apk calls equal (1.0 and 01.0) stay equal. Numbers are unbounded (apk-tools wraps at 2^64).
import { type Cmp, type VersionScheme, cmpBytes, cmpDigits, utf8 } from './scheme.ts';

enum Tok {
  InitialDigit,
  Digit,
  Letter,
  Suffix,
  SuffixNo,
  CommitHash,
  RevisionNo,
  End,
  Invalid,
}

// Suffix ranks; NONE is the implicit "no suffix" position.
const SUFFIXES: Record<string, number> = { alpha: 1, beta: 2, pre: 3, rc: 4, cvs: 6, svn: 7, git: 8, hg: 9, p: 10 };
const SUFFIX_NONE = 5;

const isDigit = (c: number) => c >= 48 && c <= 57;
const isLower = (c: number) => c >= 97 && c <= 122;
const isHex = (c: number) => isDigit(c) || (c >= 97 && c <= 102);

class Reader {
  tok: Tok = Tok.InitialDigit;
  suffix = 0;
  start = 0; // value = bytes[start, end)
  end = 0;
  pos = 0;
  constructor(readonly b: Uint8Array) {
    this.digits();
  }

  private digits(): void {
    this.start = this.pos;
    while (this.pos < this.b.length && isDigit(this.b[this.pos])) this.pos++;
    this.end = this.pos;
    if (this.end === this.start) this.tok = Tok.Invalid;
  }

  private span(pred: (c: number) => boolean): void {
    this.start = this.pos;
    while (this.pos < this.b.length && pred(this.b[this.pos])) this.pos++;
    this.end = this.pos;
  }

  next(): void {
    const b = this.b;
    if (this.pos >= b.length) {
      this.tok = Tok.End;
      return;
    }
    const c = b[this.pos];
    if (isLower(c)) {
      if (this.tok > Tok.Digit) {
        this.invalid();
        return;
      }
      this.start = this.pos;
      this.pos++;
      this.end = this.pos;
      this.tok = Tok.Letter;
    } else if (c === 46 /* . */ || isDigit(c)) {
      if (c === 46) {
        if (this.tok > Tok.Digit) {
          this.invalid();
          return;
        }
        this.pos++;
      }
      if (this.tok === Tok.InitialDigit || this.tok === Tok.Digit) this.tok = Tok.Digit;
      else if (this.tok === Tok.Suffix) this.tok = Tok.SuffixNo;
      else {
        this.invalid();
        return;
      }
      this.digits();
    } else if (c === 95 /* _ */) {
      if (this.tok > Tok.SuffixNo) {
        this.invalid();
        return;
      }
      this.pos++;
      this.span(isLower);
      const name = Buffer.from(b.subarray(this.start, this.end)).toString('latin1');
      const rank = Object.hasOwn(SUFFIXES, name) ? SUFFIXES[name] : 0;
      if (!rank) {
        this.invalid();
        return;
      }
      this.suffix = rank;
      this.tok = Tok.Suffix;
    } else if (c === 126 /* ~ */) {
      if (this.tok >= Tok.CommitHash) {
        this.invalid();
        return;
      }
      this.pos++;
      this.span(isHex);
      if (this.end === this.start) {
        this.invalid();
        return;
      }
      this.tok = Tok.CommitHash;
    } else if (c === 45 /* - */) {
      if (this.tok >= Tok.RevisionNo) {
        this.invalid();
        return;
      }
      if (b[this.pos + 1] !== 114 /* r */) {
        this.invalid();
        return;
      }
      this.pos += 2;
      this.tok = Tok.RevisionNo;
      this.digits();
    } else {
      this.invalid();
    }
  }

  private invalid(): void {
    this.tok = Tok.Invalid;
  }

  value(): string {
    return Buffer.from(this.b.subarray(this.start, this.end)).toString('latin1');
  }
}

function tokenCmp(a: Reader, b: Reader): Cmp {
  switch (a.tok) {
    // biome-ignore lint/suspicious/noFallthroughSwitchClause: deliberate: a Digit without a leading zero compares numerically, as the next cases do
    case Tok.Digit:
      if (a.b[a.start] === 48 || b.b[b.start] === 48) return cmpBytes(a.b.subarray(a.start, a.end), b.b.subarray(b.start, b.end));
    // fall through: numeric
    case Tok.InitialDigit:
    case Tok.SuffixNo:
    case Tok.RevisionNo:
      return cmpDigits(a.value(), b.value());
    case Tok.Letter:
      return a.b[a.start] < b.b[b.start] ? -1 : a.b[a.start] > b.b[b.start] ? 1 : 0;
    case Tok.Suffix:
      return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
    default:
      return cmpBytes(a.b.subarray(a.start, a.end), b.b.subarray(b.start, b.end));
  }
}

/** apk-tools' comparison, exactly (including its answers for strings that break the grammar). */
export function apkVersionCompare(as: string, bs: string): Cmp {
  const a = new Reader(utf8(as));
  const b = new Reader(utf8(bs));
  while (a.tok === b.tok && a.tok < Tok.End) {
    const r = tokenCmp(a, b);
    if (r !== 0) return r;
    a.next();
    b.next();
  }
  if (a.tok === b.tok) return 0;
  if (a.tok === Tok.Suffix && a.suffix < SUFFIX_NONE) return -1;
  if (b.tok === Tok.Suffix && b.suffix < SUFFIX_NONE) return 1;
  return a.tok > b.tok ? -1 : 1;
}

export function validApk(v: string): boolean {
  const r = new Reader(utf8(v));
  while (r.tok < Tok.End) r.next();
  return r.tok === Tok.End;
}

export function compareApk(a: string, b: string): Cmp {
  const r = apkVersionCompare(a, b);
  if (r !== 0 || a === b) return r;
  if (validApk(a) && validApk(b)) return 0;
  return cmpBytes(utf8(a), utf8(b));
}

export const apk: VersionScheme = {
  name: 'apk',
  aliases: ['alpine', 'wolfi', 'chainguard', 'alpaquita', 'bellsoft hardened containers', 'postmarketos'],
  compare: compareApk,
  valid: validApk,
};
