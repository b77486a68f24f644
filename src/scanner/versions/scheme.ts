// The one interface every version scheme implements (claircore shape: one small plug-in, one job).
// A scheme never throws on any string: `valid()` says whether the string is a well-formed version
// of that ecosystem, and `compare()` is a total order over all strings (each module documents how
// it orders strings that are not valid).

export type Cmp = -1 | 0 | 1;

export interface VersionScheme {
  /** Short scheme name, the registry key: 'dpkg', 'rpm', 'apk', 'pep440', 'semver', 'npm', 'go', 'maven'. */
  readonly name: string;
  /** Other names that resolve to this scheme (OSV ecosystem names, distro names), lowercase. */
  readonly aliases: readonly string[];
  /** -1 if a sorts before b, 0 if they are the same version, 1 if a sorts after b. */
  compare(a: string, b: string): Cmp;
  /** True when the string is a well-formed version in this ecosystem. */
  valid(v: string): boolean;
}

export function sign(n: number | bigint): Cmp {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** Plain ordinal comparison of two strings by UTF-16 code unit (JavaScript's `<`). */
export function cmpString(a: string, b: string): Cmp {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compare two runs of ASCII digits as unbounded non-negative integers. */
export function cmpDigits(a: string, b: string): Cmp {
  let i = 0;
  while (i < a.length - 1 && a.charCodeAt(i) === 48) i++;
  let j = 0;
  while (j < b.length - 1 && b.charCodeAt(j) === 48) j++;
  const la = a.length - i;
  const lb = b.length - j;
  if (la !== lb) return la < lb ? -1 : 1;
  for (; i < a.length; i++, j++) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Byte-wise comparison (memcmp, then length) of two byte arrays. */
export function cmpBytes(a: Uint8Array, b: Uint8Array): Cmp {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return sign(a.length - b.length);
}

export const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/**
 * Remembers a parser's answers (bounded: forgotten all at once at `max` entries). A matcher compares
 * one installed version with every bound of every candidate advisory, so the same strings are
 * parsed over and over; the parsed values must be treated as read-only.
 */
export function memoParse<T>(parse: (s: string) => T, max = 8192): (s: string) => T {
  const cache = new Map<string, T>();
  return (s) => {
    let v = cache.get(s);
    if (v === undefined && !cache.has(s)) {
      if (cache.size >= max) cache.clear();
      v = parse(s);
      cache.set(s, v);
    }
    return v as T;
  };
}
