// Alpine (apk) package versions as apk-tools 2.x compares them (2.10 … 2.14, the apk of Alpine up to
// 3.22; src/version.c get_token()/next_token(), re-implemented here, not copied). `apk.ts` is the
// apk-tools 3.x algorithm (Alpine 3.23 and edge); `apkForRelease()` picks one per Alpine release.
//
// The two agree except where a digit group after a '.' starts with '0':
//  - 3.x compares such a group with the other side's group as a string ("06" > "049": 0.06 > 0.049);
//  - 2.x reads the leading zeros as a token of their own, worth minus their count (so more zeros are
//    older), then the rest of the group as a number: 0.06 is (0)(-1)(6) and 0.049 is (0)(-1)(49), so
//    0.06 < 0.049, and 1.00 < 1.0 (two zeros against one).
// Other 2.x traits kept: no `~hash` token (a '~' breaks the grammar), suffixes matched by prefix in
// the order alpha, beta, pre, rc then cvs, svn, git, hg, p, and a grammar error is a token that sorts
// below every other type (3.x: above the end). Numbers are unbounded (apk-tools 2.x wraps at 2^31).
//
// Total order: as in apk.ts, when apk calls two different strings equal and one of them breaks the
// grammar, the tie is broken by their bytes; valid versions apk calls equal stay equal.
import { type Cmp, type VersionScheme, cmpBytes, utf8 } from './scheme.ts';

const enum T {
  Invalid = -1,
  DigitOrZero = 0,
  Digit = 1,
  Letter = 2,
  Suffix = 3,
  SuffixNo = 4,
  RevisionNo = 5,
  End = 6,
}

const PRE = ['alpha', 'beta', 'pre', 'rc'];
const POST = ['cvs', 'svn', 'git', 'hg', 'p'];

const isDigit = (c: number | undefined) => c !== undefined && c >= 48 && c <= 57;
const isLower = (c: number | undefined) => c !== undefined && c >= 97 && c <= 122;

class Cursor {
  type: T = T.Digit;
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  get len(): number {
    return this.b.length - this.pos;
  }

  private startsWith(word: string): boolean {
    if (word.length > this.len) return false;
    for (let k = 0; k < word.length; k++) if (this.b[this.pos + k] !== word.charCodeAt(k)) return false;
    return true;
  }

  /** next_token(): the type of what follows, consuming a separator. */
  private nextType(): void {
    const c = this.b[this.pos];
    let n: T = T.Invalid;
    if (this.len === 0 || c === 0) n = T.End;
    else if ((this.type === T.Digit || this.type === T.DigitOrZero) && isLower(c)) n = T.Letter;
    else if (this.type === T.Letter && isDigit(c)) n = T.Digit;
    else if (this.type === T.Suffix && isDigit(c)) n = T.SuffixNo;
    else {
      if (c === 46) n = T.DigitOrZero;
      else if (c === 95) n = T.Suffix;
      else if (c === 45) {
        if (this.len > 1 && this.b[this.pos + 1] === 114) {
          n = T.RevisionNo;
          this.pos++;
        }
      }
      this.pos++;
    }
    if (n < this.type) {
      const allowed =
        (n === T.DigitOrZero && this.type === T.Digit) ||
        (n === T.Suffix && this.type === T.SuffixNo) ||
        (n === T.Digit && this.type === T.Letter);
      if (!allowed) n = T.Invalid;
    }
    this.type = n;
  }

  /** get_token(): the value of the current token, then advance to the next one. */
  token(): bigint {
    if (this.len <= 0) {
      this.type = T.End;
      return 0n;
    }
    let v = 0n;
    let i = 0;
    let after: T | undefined;
    const b = this.b;
    const p = this.pos;
    switch (this.type) {
      // biome-ignore lint/suspicious/noFallthroughSwitchClause: deliberate: a DigitOrZero without a leading zero is read as a Digit
      case T.DigitOrZero:
        if (b[p] === 48) {
          while (i < this.len && b[p + i] === 48) i++;
          after = T.Digit;
          v = BigInt(-i);
          break;
        }
      // fall through
      case T.Digit:
      case T.SuffixNo:
      case T.RevisionNo:
        while (i < this.len && isDigit(b[p + i])) {
          v = v * 10n + BigInt(b[p + i] - 48);
          i++;
        }
        break;
      case T.Letter:
        v = BigInt(b[p]);
        i = 1;
        break;
      case T.Suffix: {
        const pre = PRE.findIndex((w) => this.startsWith(w));
        if (pre >= 0) {
          v = BigInt(pre - PRE.length);
          i = PRE[pre].length;
          break;
        }
        const post = POST.findIndex((w) => this.startsWith(w));
        if (post >= 0) {
          v = BigInt(post);
          i = POST[post].length;
          break;
        }
        this.type = T.Invalid;
        return -1n;
      }
      default:
        this.type = T.Invalid;
        return -1n;
    }
    this.pos += i;
    if (this.len === 0) this.type = T.End;
    else if (after !== undefined) this.type = after;
    else this.nextType();
    return v;
  }
}

/** apk-tools 2.x's apk_version_compare(), exactly (including its answers for invalid strings). */
export function apk2VersionCompare(as: string, bs: string): Cmp {
  const a = new Cursor(utf8(as));
  const b = new Cursor(utf8(bs));
  let av = 0n;
  let bv = 0n;
  while (a.type === b.type && a.type !== T.End && a.type !== T.Invalid && av === bv) {
    av = a.token();
    bv = b.token();
  }
  if (av < bv) return -1;
  if (av > bv) return 1;
  const at = a.type;
  const bt = b.type;
  if (at === bt) return 0;
  // Equal so far: the longer version is newer, unless what it has next is a pre-release suffix
  // (or a suffix apk does not know, which get_token answers with -1 too).
  if (at === T.Suffix && a.token() < 0n) return -1;
  if (bt === T.Suffix && b.token() < 0n) return 1;
  if (at > bt) return -1;
  if (bt > at) return 1;
  return 0;
}

/** apk-tools 2.x's apk_version_validate(). */
export function validApk2(v: string): boolean {
  const c = new Cursor(utf8(v));
  while (c.type !== T.End && c.type !== T.Invalid) c.token();
  return c.type === T.End;
}

export function compareApk2(a: string, b: string): Cmp {
  const r = apk2VersionCompare(a, b);
  if (r !== 0 || a === b) return r;
  if (validApk2(a) && validApk2(b)) return 0;
  return cmpBytes(utf8(a), utf8(b));
}

export const apk2: VersionScheme = {
  name: 'apk2',
  aliases: ['apk-tools-2'],
  compare: compareApk2,
  valid: validApk2,
};
