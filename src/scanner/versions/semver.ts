// Semantic versions: SemVer 2.0.0 (the OSV "SEMVER" range type), npm, and Go modules.
//
// Precedence (semver.org §11): major, minor, patch numerically; a version with a pre-release is
// older than the same version without; pre-release identifiers compare left to right, numeric ones
// numerically, alphanumeric ones by ASCII, numeric below alphanumeric, and a longer list wins when
// all shared identifiers are equal. Build metadata ("+...") never affects precedence.
//
//  - `semver`: strict SemVer 2.0.0 (no leading zeros, no empty identifiers); a leading "v" is
//    tolerated because advisories often carry one. Numbers are unbounded.
//  - `npm`: npm's own `semver` package (what npm itself uses), parsing loosely as npm does for
//    installed package.json versions ("v1.2.3", "=1.2.3", "1.2.3beta"). Ranges use the same package.
//  - `go`: golang.org/x/mod/semver rules. The "v" prefix is optional here because OSV's Go entries
//    drop it; "v1" and "v1.2" are shorthands for v1.0.0 and v1.2.0 (but a shorthand may not carry a
//    pre-release or build); "+incompatible" is build metadata and so is ignored; pseudo-versions
//    (v0.0.0-20191109021931-daa7c04131f5, v1.2.4-0.2019..., v1.2.3-pre.0.2019...) are ordinary
//    pre-releases and sort exactly where the go command puts them.
//
// Total order fallback for all three: a string that does not parse sorts before every valid
// version, and invalid strings order among themselves by UTF-16 code units (x/mod/semver instead
// calls all invalid strings equal, which is not a total order).
import { createRequire } from 'node:module';
import type SemverLib from 'semver';

// semver is loaded by the first comparison that needs it (a scan), not by every server start.
const load = createRequire(import.meta.url);
const semverLib = new Proxy({} as typeof SemverLib, { get: (_t, k) => (load('semver') as Record<PropertyKey, unknown>)[k] });
import { type Cmp, type VersionScheme, cmpDigits, cmpString } from './scheme.ts';

export interface SemVer {
  major: string; // digit strings, compared as unbounded integers
  minor: string;
  patch: string;
  prerelease: string[];
  build: string[];
}

const NUM = '0|[1-9][0-9]*';
const PRE_ID = `(?:${NUM}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
const BUILD_ID = '[0-9A-Za-z-]+';
const SEMVER_RE = new RegExp(
  `^v?(${NUM})\\.(${NUM})\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?$`,
);

/** Strict SemVer 2.0.0 (leading "v" tolerated). */
export function parseSemver(v: string): SemVer | undefined {
  const m = SEMVER_RE.exec(v);
  if (!m) return undefined;
  return { major: m[1], minor: m[2], patch: m[3], prerelease: m[4] ? m[4].split('.') : [], build: m[5] ? m[5].split('.') : [] };
}

const isNumeric = (s: string) => /^[0-9]+$/.test(s);

export function compareIdentifiers(a: string, b: string): Cmp {
  const na = isNumeric(a);
  const nb = isNumeric(b);
  if (na && nb) return cmpDigits(a, b);
  if (na) return -1;
  if (nb) return 1;
  return cmpString(a, b); // identifiers are ASCII, so code-unit order is ASCII order
}

export function compareSemverParsed(a: SemVer, b: SemVer): Cmp {
  const c = cmpDigits(a.major, b.major) || cmpDigits(a.minor, b.minor) || cmpDigits(a.patch, b.patch);
  if (c) return c;
  const pa = a.prerelease;
  const pb = b.prerelease;
  if (!pa.length || !pb.length) return pa.length ? -1 : pb.length ? 1 : 0;
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const r = compareIdentifiers(pa[i], pb[i]);
    if (r) return r;
  }
  return pa.length === pb.length ? 0 : pa.length < pb.length ? -1 : 1;
}

function withFallback<T>(parse: (v: string) => T | undefined, cmp: (a: T, b: T) => Cmp) {
  return (a: string, b: string): Cmp => {
    const x = parse(a);
    const y = parse(b);
    if (x !== undefined && y !== undefined) return cmp(x, y);
    if (x !== undefined) return 1;
    if (y !== undefined) return -1;
    return cmpString(a, b);
  };
}

export const compareSemver = withFallback(parseSemver, compareSemverParsed);

export const semver: VersionScheme = {
  name: 'semver',
  aliases: ['semver2', 'crates.io', 'cargo', 'helm'],
  compare: compareSemver,
  valid: (v) => parseSemver(v) !== undefined,
};

// ---- npm -------------------------------------------------------------------------------------

const NPM_LOOSE = { loose: true } as const;

export function parseNpm(v: string): SemverLib.SemVer | undefined {
  return semverLib.parse(v, NPM_LOOSE) ?? undefined;
}

export const compareNpm = withFallback(parseNpm, (a, b) => a.compare(b));

export const npm: VersionScheme = {
  name: 'npm',
  aliases: ['node', 'nodejs', 'javascript', 'yarn', 'pnpm'],
  compare: compareNpm,
  valid: (v) => semverLib.valid(v) !== null,
};

// ---- Go modules ------------------------------------------------------------------------------

// x/mod/semver grammar; the "v" is optional (OSV), shorthand only without pre-release/build.
const GO_RE = new RegExp(
  `^v?(${NUM})(?:\\.(${NUM})(?:\\.(${NUM})(?:-(${PRE_ID}(?:\\.${PRE_ID})*))?(?:\\+(${BUILD_ID}(?:\\.${BUILD_ID})*))?)?)?$`,
);

export function parseGo(v: string): SemVer | undefined {
  const m = GO_RE.exec(v);
  if (!m) return undefined;
  return {
    major: m[1],
    minor: m[2] ?? '0',
    patch: m[3] ?? '0',
    prerelease: m[4] ? m[4].split('.') : [],
    build: m[5] ? m[5].split('.') : [],
  };
}

/** The canonical Go form: vMAJOR.MINOR.PATCH[-pre] (x/mod/semver.Canonical drops the build)... */
export function canonicalGo(v: string): string | undefined {
  const p = parseGo(v);
  if (!p) return undefined;
  const pre = p.prerelease.length ? `-${p.prerelease.join('.')}` : '';
  // ...except "+incompatible", which the go command keeps as part of the module version.
  const incompatible = p.build.length === 1 && p.build[0] === 'incompatible' ? '+incompatible' : '';
  return `v${p.major}.${p.minor}.${p.patch}${pre}${incompatible}`;
}

export const compareGo = withFallback(parseGo, compareSemverParsed);

// golang.org/x/mod/module's pseudo-version pattern (with the "v" optional, as everywhere here).
const PSEUDO_RE = /^v?[0-9]+\.(?:0\.0-|[0-9]+\.[0-9]+-(?:[^+]*\.)?0\.)([0-9]{14})-([A-Za-z0-9]+)(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export interface PseudoVersion {
  /** yyyymmddhhmmss, UTC commit time. */
  timestamp: string;
  /** Abbreviated commit hash. */
  revision: string;
}

/** Split a Go pseudo-version into its commit time and revision; undefined if it is not one. */
export function parsePseudoVersion(v: string): PseudoVersion | undefined {
  if (v.split('-').length < 3 || !parseGo(v)) return undefined;
  const m = PSEUDO_RE.exec(v);
  return m ? { timestamp: m[1], revision: m[2] } : undefined;
}

export const go: VersionScheme = {
  name: 'go',
  aliases: ['golang', 'gomod', 'go-module'],
  compare: compareGo,
  valid: (v) => parseGo(v) !== undefined,
};
