// OSV updaters: the OSV schema (https://ossf.github.io/osv-schema/) as published by GitHub
// (GHSA), PyPA (PYSEC), the Go vulnerability database (GO-), and osv.dev's Debian (DSA/DLA/
// DEBIAN-CVE), Ubuntu (UBUNTU-CVE) and Alpine (ALPINE-CVE) feeds.
//
// Input: a single OSV JSON file (one entry or an array of entries), a directory of them (any depth),
// a zip in the layout of osv.dev's `<Ecosystem>/all.zip` (one `<ID>.json` per entry), gzip'd JSON,
// or a URL of any of those. One updater per osv.dev ecosystem export is registered (each its own
// data set and fingerprint), plus `osv` for custom input in any ecosystem.
//
// Mapping: each `affected[]` entry whose ecosystem has a version scheme becomes one record per
// (id, ecosystem, distribution, package); distribution ecosystems carry the release in the
// ecosystem string (`Debian:12`, `Ubuntu:22.04:LTS`, `Alpine:v3.18`, `Red Hat:enterprise_linux:9`,
// `Rocky Linux:9`, `AlmaLinux:9`). `ECOSYSTEM` and `SEMVER` ranges are kept as OSV events (GIT
// ranges cannot be compared with installed versions and are dropped); `versions` is kept only
// when no usable range exists. Withdrawn entries produce nothing (so an update withdraws them).
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type Yauzl from 'yauzl';

// yauzl is loaded by the first archive read, not by every server start.
const load = createRequire(import.meta.url);
const yauzl = new Proxy({} as typeof Yauzl, { get: (_t, k) => (load('yauzl') as Record<PropertyKey, unknown>)[k] });
import {
  cvss2BaseScore,
  cvss3BaseScore,
  lookupName,
  severityFromScore,
  severityFromText,
  type Advisory,
  type AdvisoryEcosystem,
  type DistributionRef,
  type Severity,
} from '../model.js';
import { schemeFor, type OsvEvent } from '../versions/index.js';
import { listFiles, openDecoded, parseJson, readDecoded, sniff, type LocalSource } from './fetcher.js';
import { topLevelMembers } from './json-stream.js';
import { defineUpdater, type Updater } from './updater.js';

export const OSV_BASE = 'https://osv-vulnerabilities.storage.googleapis.com';
const MAX_ENTRY = 64 * 1024 * 1024;
const MAX_DESCRIPTION = 8000;

// ---- ecosystem strings ------------------------------------------------------------------------

export interface OsvTarget {
  ecosystem: AdvisoryEcosystem;
  distribution: DistributionRef | null;
}

const LANGUAGE: Record<string, AdvisoryEcosystem> = {
  pypi: 'pep440',
  npm: 'npm',
  go: 'go',
  maven: 'maven',
  'crates.io': 'semver',
};

/**
 * The version scheme and distribution release of an OSV ecosystem string, or undefined when Berth
 * cannot match it (no version scheme, or a distribution release it cannot name). Ubuntu Pro/FIPS
 * streams are left out: their fixes are not in the public archive an image is built from.
 */
export function osvTarget(ecosystem: string): OsvTarget | undefined {
  const e = ecosystem.trim();
  const lang = LANGUAGE[e.toLowerCase()];
  if (lang) return { ecosystem: lang, distribution: null };
  const parts = e.split(':');
  const head = parts[0].trim().toLowerCase();
  let m: RegExpExecArray | null;
  switch (head) {
    case 'debian':
      return parts[1] && /^\d+(\.\d+)?$/.test(parts[1])
        ? { ecosystem: 'dpkg', distribution: { id: 'debian', versionId: parts[1].split('.')[0] } }
        : undefined;
    case 'ubuntu':
      return parts[1] && /^\d+\.\d+$/.test(parts[1])
        ? { ecosystem: 'dpkg', distribution: { id: 'ubuntu', versionId: parts[1] } }
        : undefined;
    case 'alpine':
      if (!parts[1]) return undefined;
      if (parts[1] === 'edge') return { ecosystem: 'apk', distribution: { id: 'alpine', versionId: 'edge' } };
      m = /^v?(\d+\.\d+)/.exec(parts[1]);
      return m ? { ecosystem: 'apk', distribution: { id: 'alpine', versionId: m[1] } } : undefined;
    case 'red hat':
      m = /enterprise_linux:(\d+)/.exec(e);
      return m ? { ecosystem: 'rpm', distribution: { id: 'rhel', versionId: m[1] } } : undefined;
    case 'rocky linux':
      m = /^(\d+)/.exec(parts[1] ?? '');
      return m ? { ecosystem: 'rpm', distribution: { id: 'rocky', versionId: m[1] } } : undefined;
    case 'almalinux':
      m = /^(\d+)/.exec(parts[1] ?? '');
      return m ? { ecosystem: 'rpm', distribution: { id: 'almalinux', versionId: m[1] } } : undefined;
    default:
      return undefined;
  }
}

// ---- entries ----------------------------------------------------------------------------------

interface OsvSeverity {
  type?: string;
  score?: string;
}
interface OsvAffected {
  package?: { ecosystem?: string; name?: string; purl?: string };
  ranges?: Array<{ type?: string; events?: Array<Record<string, unknown>> }>;
  versions?: unknown[];
  severity?: OsvSeverity[];
  ecosystem_specific?: Record<string, unknown>;
  database_specific?: Record<string, unknown>;
}
export interface OsvEntry {
  id?: string;
  aliases?: string[];
  upstream?: string[];
  summary?: string;
  details?: string;
  published?: string;
  modified?: string;
  withdrawn?: string;
  severity?: OsvSeverity[];
  affected?: OsvAffected[];
  references?: Array<{ type?: string; url?: string }>;
  database_specific?: Record<string, unknown>;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length > 0) : [];
}

function events(list: Array<Record<string, unknown>> | undefined): OsvEvent[] {
  const out: OsvEvent[] = [];
  for (const e of list ?? []) {
    if (typeof e.introduced === 'string') out.push({ introduced: e.introduced });
    else if (typeof e.fixed === 'string') out.push({ fixed: e.fixed });
    else if (typeof e.last_affected === 'string') out.push({ last_affected: e.last_affected });
    else if (typeof e.limit === 'string') out.push({ limit: e.limit });
  }
  return out;
}

interface SeverityInfo {
  severity: Severity;
  vector?: string;
  score?: number;
}

function severityOf(entry: OsvEntry, aff: OsvAffected): SeverityInfo {
  const all = [...(aff.severity ?? []), ...(entry.severity ?? [])].filter((s) => typeof s?.score === 'string');
  const v3 = all.find((s) => s.type === 'CVSS_V3');
  const v4 = all.find((s) => s.type === 'CVSS_V4');
  const v2 = all.find((s) => s.type === 'CVSS_V2');
  let vector: string | undefined;
  let score: number | undefined;
  let fromScore: Severity = 'Unknown';
  if (v3) {
    vector = v3.score;
    score = cvss3BaseScore(v3.score!);
    fromScore = severityFromScore(score);
  } else if (v2) {
    vector = v2.score;
    score = cvss2BaseScore(v2.score!);
    // CVSS v2 has no "Critical": 7.0-10.0 is High.
    fromScore = score === undefined ? 'Unknown' : severityFromScore(Math.min(score, 8.9));
  } else if (v4) {
    vector = v4.score; // no v4 calculator: the vector is kept, the severity comes from elsewhere
  }
  // A vendor's own rating wins over the generic score: GitHub's database_specific.severity,
  // Debian's urgency, Ubuntu's priority.
  const words = [
    entry.database_specific?.severity,
    aff.ecosystem_specific?.severity,
    aff.database_specific?.severity,
    aff.ecosystem_specific?.urgency,
    all.find((s) => s.type === 'Ubuntu')?.score,
  ];
  for (const w of words) {
    const s = typeof w === 'string' ? severityFromText(w) : 'Unknown';
    if (s !== 'Unknown') return { severity: s, vector, score };
  }
  return { severity: fromScore, vector, score };
}

function firstFixed(ranges: OsvEvent[][]): string | null {
  for (const r of ranges) {
    for (const e of r) if ('fixed' in e) return e.fixed;
  }
  return null;
}

export interface OsvConvertOptions {
  updater: string;
  /** Keep only affected packages whose OSV ecosystem passes this test. */
  accept?: (osvEcosystem: string) => boolean;
}

/** One OSV entry to records (none for a withdrawn entry or one Berth cannot match). */
export function osvToAdvisories(entry: OsvEntry, opts: OsvConvertOptions): Advisory[] {
  if (!entry || typeof entry !== 'object' || typeof entry.id !== 'string' || !entry.id) {
    throw new Error('not an OSV entry (no "id")');
  }
  if (entry.withdrawn) return [];
  const id = entry.id;
  const aliases = [...new Set([...strings(entry.aliases), ...strings(entry.upstream)])].filter((a) => a !== id);
  const links = [`https://osv.dev/vulnerability/${id}`];
  for (const r of entry.references ?? []) if (typeof r?.url === 'string' && !links.includes(r.url)) links.push(r.url);
  const description = (entry.details || entry.summary || '').slice(0, MAX_DESCRIPTION);
  const byKey = new Map<string, Advisory>();
  for (const aff of Array.isArray(entry.affected) ? entry.affected : []) {
    const eco = aff?.package?.ecosystem;
    const name = aff?.package?.name;
    if (typeof eco !== 'string' || typeof name !== 'string' || !name) continue;
    if (opts.accept && !opts.accept(eco)) continue;
    const target = osvTarget(eco);
    if (!target || !schemeFor(target.ecosystem)) continue;
    const ranges = (aff.ranges ?? [])
      .filter((r) => r?.type === 'ECOSYSTEM' || r?.type === 'SEMVER')
      .map((r) => events(r.events))
      .filter((evs) => evs.length > 0);
    const versions = strings(aff.versions);
    if (ranges.length === 0 && versions.length === 0) continue;
    const sev = severityOf(entry, aff);
    const dist = target.distribution;
    const key = `${target.ecosystem}|${dist ? `${dist.id}:${dist.versionId}` : ''}|${lookupName(target.ecosystem, name)}`;
    const prev = byKey.get(key);
    if (prev) {
      // The same package named twice (several ranges split over affected[] entries): one record.
      prev.ranges.push(...ranges);
      if (ranges.length === 0 || prev.versions) prev.versions = [...new Set([...(prev.versions ?? []), ...versions])];
      if (prev.fixedIn === null) prev.fixedIn = firstFixed(ranges);
      continue;
    }
    const a: Advisory = {
      updater: opts.updater,
      id,
      aliases,
      ecosystem: target.ecosystem,
      distribution: dist,
      package: name,
      packageKind: dist ? 'source' : 'any',
      ranges,
      fixedIn: firstFixed(ranges),
      severity: sev.severity,
      links,
      description,
    };
    if (ranges.length === 0) a.versions = versions;
    if (sev.vector) a.severityVector = sev.vector;
    if (sev.score !== undefined) a.score = sev.score;
    if (entry.published) a.published = entry.published;
    if (entry.modified) a.modified = entry.modified;
    byKey.set(key, a);
  }
  return [...byKey.values()];
}

// ---- reading files ----------------------------------------------------------------------------

async function* zipEntries(file: string): AsyncGenerator<{ name: string; data: Buffer }> {
  const zip = await new Promise<Yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, strictFileNames: false }, (err, z) =>
      err ? reject(new Error(`not a readable zip: ${err.message}`)) : resolve(z!),
    ),
  );
  try {
    while (true) {
      const entry = await new Promise<Yauzl.Entry | null>((resolve, reject) => {
        const onEntry = (e: Yauzl.Entry) => {
          cleanup();
          resolve(e);
        };
        const onEnd = () => {
          cleanup();
          resolve(null);
        };
        const onError = (err: Error) => {
          cleanup();
          reject(new Error(`corrupt zip: ${err.message}`));
        };
        const cleanup = () => {
          zip.off('entry', onEntry);
          zip.off('end', onEnd);
          zip.off('error', onError);
        };
        zip.on('entry', onEntry);
        zip.on('end', onEnd);
        zip.on('error', onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith('/') || !entry.fileName.toLowerCase().endsWith('.json')) continue;
      if (entry.uncompressedSize > MAX_ENTRY) throw new Error(`zip entry ${entry.fileName} is larger than ${MAX_ENTRY} bytes`);
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) =>
          err ? reject(new Error(`corrupt zip entry ${entry.fileName}: ${err.message}`)) : resolve(s!),
        ),
      );
      const parts: Buffer[] = [];
      try {
        for await (const c of stream) parts.push(c as Buffer);
      } catch (err) {
        throw new Error(`corrupt zip entry ${entry.fileName}: ${(err as Error).message}`);
      }
      yield { name: entry.fileName, data: Buffer.concat(parts) };
    }
  } finally {
    zip.close();
  }
}

/** Every OSV entry in a file: a zip, a JSON array (streamed), or a single JSON object. */
async function* entriesInFile(file: string, label: string): AsyncGenerator<{ entry: OsvEntry; where: string }> {
  const { compression, firstByte } = await sniff(file);
  if (compression === 'zip') {
    for await (const { name, data } of zipEntries(file)) {
      yield { entry: parseJson(data, `${label}!${name}`) as OsvEntry, where: `${label}!${name}` };
    }
    return;
  }
  if (compression === 'none' && firstByte === 0x5b /* [ */) {
    try {
      for await (const [i, v] of topLevelMembers(createReadStream(file, { highWaterMark: 1 << 20 }))) {
        yield { entry: v as OsvEntry, where: `${label}[${i}]` };
      }
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
    return;
  }
  if (compression === 'gzip') {
    // gzip'd JSON: a single entry or an array, decoded as a stream.
    const stream = await openDecoded(file);
    try {
      let count = 0;
      let single: unknown;
      for await (const [i, v] of topLevelMembers(stream)) {
        if (typeof i === 'number') {
          count++;
          yield { entry: v as OsvEntry, where: `${label}[${i}]` };
        } else {
          single ??= {};
          (single as Record<string, unknown>)[i] = v;
        }
      }
      if (single !== undefined && count === 0) yield { entry: single as OsvEntry, where: label };
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
    return;
  }
  if (firstByte !== 0x7b /* { */) throw new Error(`${label}: not OSV JSON (expected an object, an array or a zip)`);
  yield { entry: parseJson(await readDecoded(file, MAX_ENTRY), label) as OsvEntry, where: label };
}

export async function* readOsv(sources: LocalSource[], opts: OsvConvertOptions): AsyncGenerator<Advisory> {
  for (const src of sources) {
    const files =
      src.kind === 'dir'
        ? (await listFiles(src.path))
            .filter((f) => /\.(json|zip|json\.gz)$/i.test(f))
            .map((f) => ({ file: path.join(src.path, f), label: path.join(src.origin, f) }))
        : [{ file: src.path, label: src.origin }];
    for (const { file, label } of files) {
      for await (const { entry, where } of entriesInFile(file, label)) {
        let records: Advisory[];
        try {
          records = osvToAdvisories(entry, opts);
        } catch (err) {
          throw new Error(`${where}: ${(err as Error).message}`);
        }
        yield* records;
      }
    }
  }
}

// ---- the updaters -----------------------------------------------------------------------------

export interface OsvUpdaterOptions {
  /** Updater name (default `osv-<ecosystem>` in lower case). */
  name?: string;
  /** The osv.dev ecosystem directory (`PyPI`, `npm`, `Go`, `Maven`, `Debian`, `Ubuntu`, `Alpine`); none: all ecosystems. */
  ecosystem?: string;
  enabledByDefault?: boolean;
  description?: string;
}

/** An OSV updater for one osv.dev ecosystem export (or, without an ecosystem, all of them). */
export function osvUpdater(o: OsvUpdaterOptions = {}): Updater {
  const eco = o.ecosystem;
  const name = o.name ?? (eco ? `osv-${eco.toLowerCase()}` : 'osv');
  // Distribution exports carry the release in every entry (`Debian:12`): accept the family.
  const accept = eco ? (e: string) => e === eco || e.startsWith(`${eco}:`) : undefined;
  return defineUpdater({
    name,
    description: o.description ?? (eco ? `OSV advisories for ${eco} (osv.dev export)` : 'OSV advisories, any ecosystem'),
    defaultBase: OSV_BASE,
    defaultPaths: [eco ? `${encodeURIComponent(eco)}/all.zip` : 'all.zip'],
    enabledByDefault: o.enabledByDefault ?? false,
    read: (sources, ctx) => readOsv(sources, { updater: ctx.updater, accept }),
  });
}
