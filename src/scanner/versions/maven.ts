// Maven versions, ordered the way Maven's org.apache.maven.artifact.versioning.ComparableVersion
// does (the implementation shipped with Maven 3.8.7/3.9: MNG-6964, MNG-7644 and the "release"
// alias included; re-implemented here).
//
// Parsing (case-insensitive):
//  - '.' and '-' separate items; an empty item is 0; every '-' opens a nested sub-list, and so does
//    every switch between digits and letters ("1.0alpha1" -> [1, [alpha, [1]]]); a string item that
//    follows a '.' is also moved into its own sub-list, so ".X" sorts like "-X" (MNG-7644:
//    1.0.0.RC1 < 1.0.0-RC2 and 2.0.X == 2-X == 2.0.0.X);
//  - numbers are unbounded integers (leading zeros ignored);
//  - qualifiers: alpha < beta < milestone < rc = cr < snapshot < "" = ga = final = release < sp, then
//    any other string, alphabetically; "a", "b", "m" directly followed by a digit mean alpha, beta,
//    milestone (1a1 == 1-alpha-1, but 1a == 1-a, an unknown qualifier);
//  - normalisation drops trailing "null" items (0, "", ga/final/release, empty lists) from each list
//    (walking back past nested lists), so 1 == 1.0 == 1.0.0 == 1-0 == 1ga.
// Comparison: item by item; a missing item compares as null (0 / release); number > list > string
// when kinds differ (1.1 > 1-1 > 1-sp), and a whole list against null compares its items in turn
// (MNG-6964: 1-0.alpha < 1).
//
// Total order: ComparableVersion accepts every string, so `compare` needs no fallback. `valid()`
// rejects what is not usable as a Maven version string: empty, whitespace or control characters.
// One known simplification: Java's Character.isDigit also accepts non-ASCII decimal digits
// (Arabic-Indic, Devanagari, ...); here only 0-9 are digits, other characters are letters.
import type { Cmp, VersionScheme } from './scheme.ts';

type Item = { k: 'int'; v: bigint } | { k: 'str'; v: string } | { k: 'list'; v: Item[] };

const QUALIFIERS = ['alpha', 'beta', 'milestone', 'rc', 'snapshot', '', 'sp'];
const ALIASES: Record<string, string> = { ga: '', final: '', release: '', cr: 'rc' };
const RELEASE_INDEX = String(QUALIFIERS.indexOf(''));
const ZERO: Item = { k: 'int', v: 0n };

function stringItem(value: string, followedByDigit: boolean): Item {
  if (followedByDigit && value.length === 1) {
    if (value === 'a') value = 'alpha';
    else if (value === 'b') value = 'beta';
    else if (value === 'm') value = 'milestone';
  }
  return { k: 'str', v: Object.hasOwn(ALIASES, value) ? ALIASES[value] : value };
}

function comparableQualifier(q: string): string {
  const i = QUALIFIERS.indexOf(q);
  return i === -1 ? `${QUALIFIERS.length}-${q}` : String(i);
}

function parseItem(isDigit: boolean, buf: string): Item {
  return isDigit ? { k: 'int', v: BigInt(buf) } : stringItem(buf, false);
}

function isNull(item: Item): boolean {
  switch (item.k) {
    case 'int':
      return item.v === 0n;
    case 'str':
      return comparableQualifier(item.v) === RELEASE_INDEX;
    case 'list':
      return item.v.length === 0;
  }
}

function normalize(list: Item[]): void {
  for (let i = list.length - 1; i >= 0; i--) {
    const last = list[i];
    if (isNull(last)) list.splice(i, 1);
    else if (last.k !== 'list') break;
  }
}

const isDigitChar = (c: string) => c >= '0' && c <= '9';

/** Parse into ComparableVersion's item tree. */
export function parseMaven(input: string): Item[] {
  const version = input.toLowerCase();
  const root: Item[] = [];
  let list = root;
  const stack: Item[][] = [root];
  const sublist = () => {
    const next: Item[] = [];
    list.push({ k: 'list', v: next });
    list = next;
    stack.push(next);
  };
  let isDigit = false;
  let start = 0;
  for (let i = 0; i < version.length; i++) {
    const c = version[i];
    if (c === '.') {
      list.push(i === start ? ZERO : parseItem(isDigit, version.slice(start, i)));
      start = i + 1;
    } else if (c === '-') {
      list.push(i === start ? ZERO : parseItem(isDigit, version.slice(start, i)));
      start = i + 1;
      sublist();
    } else if (isDigitChar(c)) {
      if (!isDigit && i > start) {
        // 1.0.0.X1 < 1.0.0-X2: treat .X as -X for any string qualifier X
        if (list.length) sublist();
        list.push(stringItem(version.slice(start, i), true));
        start = i;
        sublist();
      }
      isDigit = true;
    } else {
      if (isDigit && i > start) {
        list.push(parseItem(true, version.slice(start, i)));
        start = i;
        sublist();
      }
      isDigit = false;
    }
  }
  if (version.length > start) {
    if (!isDigit && list.length) sublist();
    list.push(parseItem(isDigit, version.slice(start)));
  }
  while (stack.length) normalize(stack.pop()!);
  return root;
}

const cmpStr = (a: string, b: string): Cmp => (a < b ? -1 : a > b ? 1 : 0);

/** ComparableVersion's Item.compareTo; `b` undefined is Java's null. */
function compareItem(a: Item, b: Item | undefined): Cmp {
  switch (a.k) {
    case 'int':
      if (!b) return a.v === 0n ? 0 : 1;
      if (b.k === 'int') return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
      return 1; // 1.1 > 1-sp, 1.1 > 1-1
    case 'str':
      if (!b) return cmpStr(comparableQualifier(a.v), RELEASE_INDEX); // 1-rc < 1, 1-ga > 1
      if (b.k === 'str') return cmpStr(comparableQualifier(a.v), comparableQualifier(b.v));
      return -1; // 1.any < 1.1, 1.any < 1-1
    case 'list':
      if (!b) {
        for (const item of a.v) {
          const r = compareItem(item, undefined);
          if (r) return r;
        }
        return 0;
      }
      if (b.k === 'int') return -1; // 1-1 < 1.0.x
      if (b.k === 'str') return 1; // 1-1 > 1-sp
      return compareLists(a.v, b.v);
  }
}

function compareLists(l: Item[], r: Item[]): Cmp {
  for (let i = 0; i < Math.max(l.length, r.length); i++) {
    const a = l[i];
    const b = r[i];
    const res = a === undefined ? (b === undefined ? 0 : (-compareItem(b, undefined) as Cmp)) : compareItem(a, b);
    if (res) return res;
  }
  return 0;
}

export function compareMaven(a: string, b: string): Cmp {
  if (a === b) return 0;
  return compareLists(parseMaven(a), parseMaven(b));
}

/** ComparableVersion.getCanonical(): items joined with '.', sub-lists with '-'. */
export function canonicalMaven(v: string): string {
  const render = (items: Item[]): string => {
    let out = '';
    for (const item of items) {
      if (out.length > 0) out += item.k === 'list' ? '-' : '.';
      out += item.k === 'list' ? render(item.v) : String(item.v);
    }
    return out;
  };
  return render(parseMaven(v));
}

export const maven: VersionScheme = {
  name: 'maven',
  aliases: ['java', 'gradle', 'sbt'],
  compare: compareMaven,
  // biome-ignore lint/suspicious/noControlCharactersInRegex: deliberate: a version with a control character (or whitespace) is invalid
  valid: (v) => v.length > 0 && !/[\s\x00-\x1f\x7f]/.test(v),
};
