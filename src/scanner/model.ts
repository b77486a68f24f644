// The normalized vulnerability record every updater produces and the matcher reads.
//
// One Advisory says: "vulnerability `id` affects package `package` of ecosystem `ecosystem`
// (in distribution `distribution`, or in a language ecosystem when that is null) at the versions
// described by `ranges`". An upstream document that names several packages or several
// distribution releases becomes several Advisory records, one per (id, distribution, package), so
// the store can index them by exactly what the matcher looks up.
//
// Everything here is plain JSON: a record's content hash (`contentHash`) is what the store diffs
// on, and what an air-gap bundle carries.
import { hashHex } from '../crypto/index.js';
import type { OsvEvent } from './versions/index.js';

/** Normalized severity, lowest first. */
export const SEVERITIES = ['Unknown', 'Negligible', 'Low', 'Medium', 'High', 'Critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** The version schemes of src/scanner/versions that advisories are written in. */
export const ADVISORY_ECOSYSTEMS = ['dpkg', 'rpm', 'apk', 'pep440', 'npm', 'go', 'maven', 'semver'] as const;
export type AdvisoryEcosystem = (typeof ADVISORY_ECOSYSTEMS)[number];

/** Which release of which distribution an advisory is about (os-release ID and a normalized version). */
export interface DistributionRef {
  /** os-release ID: 'debian', 'ubuntu', 'alpine', 'rhel', ... */
  id: string;
  /** Debian '12', Ubuntu '22.04', Alpine '3.18' (or 'edge'), RHEL '9' (major only). */
  versionId: string;
}

export interface Advisory {
  /** The updater that produced the record (set by the store to the updater being replaced). */
  updater: string;
  /** CVE-2023-1234, GHSA-xxxx-xxxx-xxxx, PYSEC-2024-1, GO-2021-0113, DSA-5555-1, ... */
  id: string;
  /** Other ids of the same vulnerability (OSV aliases and upstream ids). */
  aliases: string[];
  /** The version scheme the ranges are written in. */
  ecosystem: AdvisoryEcosystem;
  /** null for language ecosystems (PyPI, npm, Go, Maven). */
  distribution: DistributionRef | null;
  /** The package name as the source names it (Debian tracker: source package; Alpine: origin). */
  package: string;
  /** Whether `package` names a source package, a binary package, or the source does not say. */
  packageKind: 'source' | 'binary' | 'any';
  /**
   * Affected versions as OSV event lists: the package is affected when any list says so (see
   * `check()` in the versions module). `[{ introduced: '0' }]` means every version.
   */
  ranges: OsvEvent[][];
  /** Explicitly listed affected versions (used when the source gives no usable range). */
  versions?: string[];
  /** The first fixed version, when there is one (display; the matcher uses the ranges). */
  fixedIn: string | null;
  severity: Severity;
  /** A CVSS vector, when the source gives one. */
  severityVector?: string;
  /** The CVSS base score, given or computed from the vector. */
  score?: number;
  links: string[];
  description: string;
  published?: string;
  modified?: string;
}

// ---- identity and hashing ---------------------------------------------------------------------

/**
 * The name the store indexes and the matcher looks up: PyPI names per PEP 503 (lower case, runs of
 * `-_.` as one `-`); every other ecosystem's names are compared exactly as written.
 */
export function lookupName(ecosystem: string, name: string): string {
  if (ecosystem === 'pep440')
    return name
      .trim()
      .toLowerCase()
      .replace(/[-_.]+/g, '-');
  return name.trim();
}

/** The advisory's identity within its updater: id, ecosystem, distribution release and package. */
export function advisoryKey(a: Pick<Advisory, 'id' | 'ecosystem' | 'distribution' | 'package'>): string {
  const dist = a.distribution ? `${a.distribution.id}:${a.distribution.versionId}` : '';
  return `${a.id}|${a.ecosystem}|${dist}|${lookupName(a.ecosystem, a.package)}`;
}

/** JSON with object keys sorted, so equal records serialize (and hash) identically. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : stableStringify(v))).join(',')}]`;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`).join(',')}}`;
}

export function contentHash(a: Advisory): string {
  return hashHex('sha256', stableStringify(a));
}

/** Throws when a record cannot be stored or matched (an updater bug, not bad upstream data). */
export function validateAdvisory(a: Advisory): void {
  const bad = (why: string) => new Error(`invalid advisory record ${JSON.stringify(a?.id)} for ${JSON.stringify(a?.package)}: ${why}`);
  if (!a || typeof a.id !== 'string' || !a.id) throw bad('no id');
  if (typeof a.package !== 'string' || !a.package.trim()) throw bad('no package name');
  if (!(ADVISORY_ECOSYSTEMS as readonly string[]).includes(a.ecosystem)) throw bad(`unknown ecosystem ${JSON.stringify(a.ecosystem)}`);
  if (!(SEVERITIES as readonly string[]).includes(a.severity)) throw bad(`unknown severity ${JSON.stringify(a.severity)}`);
  if (!Array.isArray(a.ranges) || !a.ranges.every(Array.isArray)) throw bad('ranges must be a list of event lists');
  if (a.distribution !== null && (typeof a.distribution?.id !== 'string' || typeof a.distribution?.versionId !== 'string')) {
    throw bad('distribution must be null or { id, versionId }');
  }
}

// ---- severity ---------------------------------------------------------------------------------

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

/** CVSS base score (any version) to severity, per the CVSS v3 qualitative scale. */
export function severityFromScore(score: number | undefined): Severity {
  if (score === undefined || !Number.isFinite(score)) return 'Unknown';
  if (score === 0) return 'Negligible';
  if (score < 4) return 'Low';
  if (score < 7) return 'Medium';
  if (score < 9) return 'High';
  return 'Critical';
}

/**
 * A vendor's word for severity: GitHub (LOW, MODERATE, HIGH, CRITICAL), Red Hat (Low, Moderate,
 * Important, Critical), Debian urgency (unimportant, low, medium, high; `*` suffixes), Ubuntu
 * priority (negligible, low, medium, high, critical, untriaged), NVD-style words.
 */
export function severityFromText(text: string | undefined | null): Severity {
  if (!text) return 'Unknown';
  const t = text.trim().toLowerCase().replace(/\*+$/, '').trim();
  switch (t) {
    case 'unimportant':
    case 'negligible':
    case 'none':
    case 'informational':
      return 'Negligible';
    case 'low':
    case 'minor':
      return 'Low';
    case 'medium':
    case 'moderate':
      return 'Medium';
    case 'high':
    case 'important':
      return 'High';
    case 'critical':
      return 'Critical';
    default:
      return 'Unknown';
  }
}

// ---- CVSS -------------------------------------------------------------------------------------

function parseVector(vector: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of vector.split('/')) {
    const i = part.indexOf(':');
    if (i > 0) m.set(part.slice(0, i), part.slice(i + 1));
  }
  return m;
}

/** CVSS v3.0/v3.1 base score from a vector (`CVSS:3.1/AV:N/AC:L/...`); undefined when unreadable. */
export function cvss3BaseScore(vector: string): number | undefined {
  if (!/^CVSS:3\.[01]\//.test(vector)) return undefined;
  const m = parseVector(vector);
  const AV = { N: 0.85, A: 0.62, L: 0.55, P: 0.2 }[m.get('AV') ?? ''];
  const AC = { L: 0.77, H: 0.44 }[m.get('AC') ?? ''];
  const UI = { N: 0.85, R: 0.62 }[m.get('UI') ?? ''];
  const S = m.get('S');
  const changed = S === 'C';
  const PR = (changed ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 })[m.get('PR') ?? ''];
  const cia = (k: string) => ({ H: 0.56, L: 0.22, N: 0 })[m.get(k) ?? ''];
  const C = cia('C');
  const I = cia('I');
  const A = cia('A');
  if (AV === undefined || AC === undefined || UI === undefined || PR === undefined || (S !== 'U' && S !== 'C')) return undefined;
  if (C === undefined || I === undefined || A === undefined) return undefined;
  const iss = 1 - (1 - C) * (1 - I) * (1 - A);
  const impact = changed ? 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 : 6.42 * iss;
  const exploitability = 8.22 * AV * AC * PR * UI;
  if (impact <= 0) return 0;
  const raw = changed ? Math.min(1.08 * (impact + exploitability), 10) : Math.min(impact + exploitability, 10);
  return roundUp(raw);
}

// CVSS v3.1's Roundup: the smallest number with one decimal that is >= the input, robust to
// floating-point noise.
function roundUp(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

/** CVSS v2 base score from a vector (`AV:N/AC:L/Au:N/C:P/I:P/A:P`, optional `(...)`). */
export function cvss2BaseScore(vector: string): number | undefined {
  const m = parseVector(vector.replace(/^\(|\)$/g, '').replace(/^CVSS:2\.0\//, ''));
  const AV = { L: 0.395, A: 0.646, N: 1.0 }[m.get('AV') ?? ''];
  const AC = { H: 0.35, M: 0.61, L: 0.71 }[m.get('AC') ?? ''];
  const Au = { M: 0.45, S: 0.56, N: 0.704 }[m.get('Au') ?? ''];
  const cia = (k: string) => ({ N: 0, P: 0.275, C: 0.66 })[m.get(k) ?? ''];
  const C = cia('C');
  const I = cia('I');
  const A = cia('A');
  if (AV === undefined || AC === undefined || Au === undefined || C === undefined || I === undefined || A === undefined) return undefined;
  const impact = 10.41 * (1 - (1 - C) * (1 - I) * (1 - A));
  const exploitability = 20 * AV * AC * Au;
  const f = impact === 0 ? 0 : 1.176;
  return Math.round((0.6 * impact + 0.4 * exploitability - 1.5) * f * 10) / 10;
}

/** The base score of a CVSS v2 or v3 vector; v4 and unknown formats give undefined. */
export function cvssBaseScore(vector: string): number | undefined {
  if (vector.startsWith('CVSS:3.')) return cvss3BaseScore(vector);
  if (vector.startsWith('CVSS:4.')) return undefined;
  return cvss2BaseScore(vector);
}
