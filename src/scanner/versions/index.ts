// Version comparison for the scanner: one list of version schemes (one module per ecosystem),
// lookup by ecosystem name, and the range checks matchers use.
//
//   schemeFor('Debian:12')?.compare('1:2.0-1', '2.0-1')      -> 1
//   affected('1.2.0', { introduced: '0', fixed: '1.2.3' }, 'npm')   -> true   (OSV events)
//   affected('1.2.0', '>=1.0.0 <1.2.3', 'npm')                      -> true   (range string)
//   satisfies('1.3.0-rc.1', '^1.2', 'npm')                          -> false  (npm prerelease rule)
//
// Nothing here throws on bad input: an invalid version or bound makes `check` answer 'unknown'
// (and `affected` false) instead of guessing, and `compare` of every scheme is a documented total
// order over all strings.
import { createRequire } from 'node:module';
import type SemverLib from 'semver';

// semver is loaded by the first comparison that needs it (a scan), not by every server start.
const load = createRequire(import.meta.url);
const semverLib = new Proxy({} as typeof SemverLib, { get: (_t, k) => (load('semver') as Record<PropertyKey, unknown>)[k] });
import { apk } from './apk.ts';
import { apk2 } from './apk2.ts';
import { dpkg } from './dpkg.ts';
import { maven } from './maven.ts';
import { pep440 } from './pep440.ts';
import { rpm } from './rpm.ts';
import type { Cmp, VersionScheme } from './scheme.ts';
import { canonicalGo, go, npm, parseNpm, parseSemver, semver } from './semver.ts';

export type { Cmp, VersionScheme } from './scheme.ts';

/** The one list. Add an ecosystem by writing its module and adding it here. */
export const SCHEMES: readonly VersionScheme[] = [dpkg, rpm, apk, apk2, pep440, semver, npm, go, maven];

const BY_NAME = new Map<string, VersionScheme>();
for (const s of SCHEMES) {
  for (const n of [s.name, ...s.aliases]) {
    if (BY_NAME.has(n)) throw new Error(`version scheme name ${n} registered twice`);
    BY_NAME.set(n, s);
  }
}

/**
 * The scheme for a scheme name, an alias or an OSV ecosystem string ("Debian:12", "Alpine:v3.18",
 * "Red Hat:enterprise_linux:9", "PyPI", "Go"...); undefined when unknown.
 */
export function schemeFor(ecosystem: string): VersionScheme | undefined {
  const key = ecosystem.trim().toLowerCase();
  const [head, release] = key.split(':').map((p) => p.trim());
  // Alpine's apk-tools changed its order between releases (see apk2.ts): "Alpine:v3.18" is 2.x's.
  if (head === 'alpine' && release !== undefined) return apkForRelease(release);
  return BY_NAME.get(key) ?? BY_NAME.get(head);
}

/**
 * The apk scheme of an Alpine release ('3.18', 'v3.18', 'edge'): apk-tools 2.x up to Alpine 3.22,
 * 3.x from 3.23 on and on edge (and when the release is unknown).
 */
export function apkForRelease(release: string | undefined): VersionScheme {
  const m = /^v?(\d+)\.(\d+)/.exec(release?.trim() ?? '');
  if (!m) return apk;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major < 3 || (major === 3 && minor <= 22) ? apk2 : apk;
}

/** Like schemeFor, but an unknown ecosystem is an error (a configuration mistake, not bad data). */
export function getScheme(ecosystem: string): VersionScheme {
  const s = schemeFor(ecosystem);
  if (!s) throw new Error(`no version scheme for ecosystem "${ecosystem}" (known: ${[...BY_NAME.keys()].join(', ')})`);
  return s;
}

export function compareVersions(ecosystem: string, a: string, b: string): Cmp {
  return getScheme(ecosystem).compare(a, b);
}

// ---- OSV ranges ------------------------------------------------------------------------------

/** One affected interval: [introduced, fixed) or [introduced, lastAffected]; introduced defaults to "0". */
export interface AffectedRange {
  introduced?: string;
  fixed?: string;
  lastAffected?: string;
  limit?: string;
}

/** An OSV range event, as in OSV JSON (last_affected) or camelCase. */
export type OsvEvent =
  | { introduced: string }
  | { fixed: string }
  | { last_affected: string }
  | { lastAffected: string }
  | { limit: string };

export type Verdict = 'affected' | 'not-affected' | 'unknown';

export interface CheckResult {
  verdict: Verdict;
  /** Why the answer is 'unknown' (invalid version, invalid bound, unknown ecosystem, bad range). */
  reason?: string;
}

type Ev = { kind: 'introduced' | 'fixed' | 'last_affected' | 'limit'; v: string };
const TIE = { introduced: 0, last_affected: 1, fixed: 2, limit: 3 } as const;

function toEvents(range: AffectedRange | readonly OsvEvent[]): Ev[] {
  if (Array.isArray(range)) {
    return (range as readonly Record<string, string>[]).flatMap((e): Ev[] => {
      if (typeof e.introduced === 'string') return [{ kind: 'introduced', v: e.introduced }];
      if (typeof e.fixed === 'string') return [{ kind: 'fixed', v: e.fixed }];
      if (typeof e.last_affected === 'string') return [{ kind: 'last_affected', v: e.last_affected }];
      if (typeof e.lastAffected === 'string') return [{ kind: 'last_affected', v: e.lastAffected }];
      if (typeof e.limit === 'string') return [{ kind: 'limit', v: e.limit }];
      return [];
    });
  }
  const r = range as AffectedRange;
  const evs: Ev[] = [{ kind: 'introduced', v: r.introduced ?? '0' }];
  if (r.fixed !== undefined) evs.push({ kind: 'fixed', v: r.fixed });
  if (r.lastAffected !== undefined) evs.push({ kind: 'last_affected', v: r.lastAffected });
  if (r.limit !== undefined) evs.push({ kind: 'limit', v: r.limit });
  return evs;
}

const isZero = (e: Ev) => e.kind === 'introduced' && e.v === '0';

/**
 * Evaluate a version against an OSV range (events) or a range string, for one ecosystem.
 *
 * OSV semantics: events sorted by version ("introduced: 0" means "from the very first version",
 * whatever the ecosystem's own idea of 0 is); walking them, introduced <= v makes it affected,
 * fixed <= v makes it not, last_affected < v makes it not; a version at or past every `limit` is
 * not affected. A range string ("<1.2.3", ">=1.0, <2.0 || >=3", "^1.2") is checked with
 * pre-releases included, since a pre-release of a vulnerable line is vulnerable too.
 */
export function check(version: string, range: AffectedRange | readonly OsvEvent[] | string, ecosystem: string): CheckResult {
  const scheme = schemeFor(ecosystem);
  if (!scheme) return { verdict: 'unknown', reason: `unknown ecosystem "${ecosystem}"` };
  if (!scheme.valid(version)) return { verdict: 'unknown', reason: `"${version}" is not a valid ${scheme.name} version` };
  if (typeof range === 'string') {
    const r = rangeMatch(version, range, scheme, true);
    return typeof r === 'string' ? { verdict: 'unknown', reason: r } : { verdict: r ? 'affected' : 'not-affected' };
  }
  const events = toEvents(range);
  for (const e of events) {
    if (!isZero(e) && !scheme.valid(e.v)) {
      return { verdict: 'unknown', reason: `${e.kind} "${e.v}" is not a valid ${scheme.name} version` };
    }
  }
  const cmp = scheme.compare;
  const limits = events.filter((e) => e.kind === 'limit');
  if (limits.length && !limits.some((e) => cmp(version, e.v) < 0)) return { verdict: 'not-affected' };
  const sorted = events
    .filter((e) => e.kind !== 'limit')
    .sort((a, b) => {
      if (isZero(a) || isZero(b)) return isZero(a) === isZero(b) ? 0 : isZero(a) ? -1 : 1;
      return cmp(a.v, b.v) || TIE[a.kind] - TIE[b.kind];
    });
  let hit = false;
  for (const e of sorted) {
    if (e.kind === 'introduced') {
      if (isZero(e) || cmp(version, e.v) >= 0) hit = true;
    } else if (e.kind === 'fixed') {
      if (cmp(version, e.v) >= 0) hit = false;
    } else if (e.kind === 'last_affected') {
      if (cmp(version, e.v) > 0) hit = false;
    }
  }
  return { verdict: hit ? 'affected' : 'not-affected' };
}

/** True only when the version is known to be inside the range (see `check`). */
export function affected(version: string, range: AffectedRange | readonly OsvEvent[] | string, ecosystem: string): boolean {
  return check(version, range, ecosystem).verdict === 'affected';
}

// ---- range strings ---------------------------------------------------------------------------

export interface SatisfiesOptions {
  /**
   * Let pre-releases match comparators on other [major, minor, patch] tuples. Default false, as in
   * npm and Helm (a range ">=1.0.0" does not pick up 2.0.0-rc.1); vulnerability checks use true.
   */
  includePrerelease?: boolean;
}

/**
 * Does `version` satisfy the range string? Semver ecosystems (npm, semver, go) use npm's range
 * grammar (`^ ~ >= <= > < = || - x X *`), plus what Helm/Masterminds constraints add: commas as
 * "and" and `!=`. Other ecosystems accept comparator lists: `>=1.0 <2.0`, `>=1.0, <2.0`, `=1.0`,
 * `!=1.1`, alternatives with `||`, compared with that ecosystem's own rules. False when either the
 * version or the range is invalid.
 */
export function satisfies(version: string, range: string, ecosystem: string, opts: SatisfiesOptions = {}): boolean {
  const scheme = schemeFor(ecosystem);
  if (!scheme || !scheme.valid(version)) return false;
  return rangeMatch(version, range, scheme, opts.includePrerelease ?? false) === true;
}

const SEMVER_FAMILY = new Set(['npm', 'semver', 'go']);

/** true/false, or a string saying why the range could not be evaluated. */
function rangeMatch(version: string, range: string, scheme: VersionScheme, includePrerelease: boolean): boolean | string {
  if (SEMVER_FAMILY.has(scheme.name)) return semverRangeMatch(version, range, scheme, includePrerelease);
  return comparatorRangeMatch(version, range, scheme);
}

/** Version string in the form npm's semver library parses, for each semver-family scheme. */
function toLibVersion(v: string, scheme: VersionScheme): string | undefined {
  if (scheme.name === 'npm') return parseNpm(v)?.version;
  if (scheme.name === 'go') return canonicalGo(v)?.slice(1);
  const p = parseSemver(v);
  return p ? v.replace(/^v/, '') : undefined;
}

function semverRangeMatch(version: string, range: string, scheme: VersionScheme, includePrerelease: boolean): boolean | string {
  const v = toLibVersion(version, scheme);
  if (v === undefined) return `"${version}" is not a valid ${scheme.name} version`;
  const options = { loose: true, includePrerelease };
  let any = false;
  for (const alt of range.split('||')) {
    // Helm/Masterminds: "," means "and"; "!=X" excludes one version.
    const excluded: string[] = [];
    const rest = alt.replace(/,/g, ' ').replace(/!=\s*([^\s]+)/g, (_m, x: string) => {
      excluded.push(x);
      return ' ';
    });
    // npm's parser silently drops comparators it cannot read (">=1.0.0 <foo" becomes ">=1.0.0");
    // for a vulnerability check that is a false positive, so every token must be a comparator.
    if (!wellFormedSemverRange(rest)) return `invalid ${scheme.name} range "${range}"`;
    let ok: boolean;
    try {
      const r = new semverLib.Range(rest.trim() === '' ? '*' : rest, options);
      ok = r.test(v);
    } catch {
      return `invalid ${scheme.name} range "${range}"`;
    }
    for (const x of excluded) {
      const xv = toLibVersion(x, scheme) ?? semverLib.coerce(x)?.version;
      if (xv === undefined) return `invalid ${scheme.name} range "${range}": bad version after !=`;
      if (ok && semverLib.eq(v, xv, options)) ok = false;
    }
    if (ok) any = true;
  }
  return any;
}

// One npm comparator: optional operator, then a full or partial version (x/X/* wildcards).
const XR = '(?:0|[1-9][0-9]*|[xX*])';
const SEMVER_COMPARATOR = new RegExp(
  `^(?:\\^|~>?|[<>]=?|=)?v?${XR}(?:\\.${XR}(?:\\.${XR}(?:-?[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?)?)?$`,
);

function wellFormedSemverRange(alt: string): boolean {
  const tokens = alt
    .replace(/(\^|~>?|[<>]=?|=)\s+/g, '$1')
    .split(/\s+/)
    .filter(Boolean);
  return tokens.every((tok, i) => (tok === '-' ? i > 0 && i < tokens.length - 1 : SEMVER_COMPARATOR.test(tok)));
}

const COMPARATOR = /^(<=|>=|!=|==|<|>|=)?(.+)$/;

function comparatorRangeMatch(version: string, range: string, scheme: VersionScheme): boolean | string {
  let any = false;
  for (const alt of range.split('||')) {
    // "op version" pairs; allow a space between the operator and the version.
    const tokens = alt
      .replace(/(<=|>=|!=|==|<|>|=)\s+/g, '$1')
      .split(/[\s,]+/)
      .filter(Boolean);
    let ok = true;
    for (const tok of tokens) {
      if (tok === '*') continue;
      const m = COMPARATOR.exec(tok);
      if (!m) return `invalid ${scheme.name} range "${range}"`;
      const op = m[1] ?? '=';
      const bound = m[2];
      if (!scheme.valid(bound)) return `invalid ${scheme.name} range "${range}": "${bound}" is not a valid version`;
      const c = scheme.compare(version, bound);
      const pass = op === '<' ? c < 0 : op === '<=' ? c <= 0 : op === '>' ? c > 0 : op === '>=' ? c >= 0 : op === '!=' ? c !== 0 : c === 0;
      if (!pass) ok = false;
    }
    if (ok) any = true;
  }
  return any;
}

export { apk } from './apk.ts';
export { apk2 } from './apk2.ts';
export { dpkg } from './dpkg.ts';
export { maven } from './maven.ts';
export { pep440 } from './pep440.ts';
export { rpm } from './rpm.ts';
export { go, npm, semver } from './semver.ts';
