// Red Hat CSAF VEX: one CSAF 2.0 document per CVE, published at
// https://security.access.redhat.com/data/csaf/v2/vex/ as individual files and as one archive
// (`archive_latest.txt` names the current `csaf_vex_YYYY-MM-DD.tar.zst`).
//
// What is read (the fields needed to match RHEL rpm packages):
//   product_tree.branches (recursively): product_id -> name, purl (pkg:rpm/redhat/NAME@VER-REL?arch=..&epoch=..),
//     cpe (cpe:/o:redhat:enterprise_linux:9::baseos, cpe:/a:redhat:rhel_eus:9.0::appstream, ...)
//   product_tree.relationships: "<platform>:<component>" -> component (a package) of platform (a repository)
//   vulnerabilities[]: cve, notes (description), references, release_date, threats (impact: Low,
//     Moderate, Important, Critical, per product), scores (cvss_v3, per product), and
//     product_status.fixed / product_status.known_affected.
//
// Each fixed or known_affected product that is an rpm component of a RHEL platform gives
// (cve, package name, RHEL major). For one package and major:
//   - fixed in the main stream (platform CPE `enterprise_linux`, product id not EUS/AUS/E4S/TUS):
//     affected below the highest such fix (later minor releases supersede earlier ones);
//   - otherwise known_affected on the major: affected, no fix;
//   - otherwise fixed only in extended-support streams: affected below the lowest of those fixes.
// Source (`.src`) and binary names both become records, so the matcher finds a package by its
// binary name or its source rpm. Module-stream packages (`rpmmod=` purl qualifier, or a
// component of a module) and debuginfo/debugsource packages are skipped: Berth's rpm indexer
// does not record module streams, and comparing versions across streams would be guesswork.
// Documents with tracking.status "deleted" produce nothing.
import path from 'node:path';
import { createRequire } from 'node:module';
import type Tar from 'tar-stream';

// tar-stream is loaded by the first archive read, not by every server start.
const load = createRequire(import.meta.url);
const tar = new Proxy({} as typeof Tar, { get: (_t, k) => (load('tar-stream') as Record<PropertyKey, unknown>)[k] });
import { severityFromText, maxSeverity, type Advisory, type Severity } from '../model.js';
import { compareRpmEVR, parseRpmNEVRA } from '../versions/rpm.js';
import { joinUrl, listFiles, openDecoded, parseJson, readDecoded, sniff, type LocalSource } from './fetcher.js';
import { defineUpdater, type Updater } from './updater.js';
import type { Readable } from 'node:stream';

export const REDHAT_VEX_BASE = 'https://security.access.redhat.com/data/csaf/v2/vex';
const MAX_DOC = 256 * 1024 * 1024;
const MAX_DESCRIPTION = 8000;

// ---- purl and cpe -----------------------------------------------------------------------------

export interface Purl {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
}

/** A minimal package-url parser (pkg:type/namespace/name@version?qualifiers#subpath). */
export function parsePurl(s: string): Purl | undefined {
  if (!s.startsWith('pkg:')) return undefined;
  let rest = s.slice(4);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const qualifiers: Record<string, string> = {};
  const q = rest.indexOf('?');
  if (q >= 0) {
    for (const kv of rest.slice(q + 1).split('&')) {
      const eq = kv.indexOf('=');
      if (eq > 0) qualifiers[kv.slice(0, eq).toLowerCase()] = decodeURIComponent(kv.slice(eq + 1));
    }
    rest = rest.slice(0, q);
  }
  let version: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    version = decodeURIComponent(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  const parts = rest.split('/').filter(Boolean);
  if (parts.length < 2) return undefined;
  const type = parts[0].toLowerCase();
  const name = decodeURIComponent(parts[parts.length - 1]);
  const namespace = parts.length > 2 ? parts.slice(1, -1).map(decodeURIComponent).join('/') : undefined;
  return { type, namespace, name, version, qualifiers };
}

interface Platform {
  major: string;
  main: boolean;
}

/** RHEL major release and stream of a platform product, from its CPE and product id. */
export function rhelPlatform(cpe: string | undefined, productId: string): Platform | undefined {
  if (!cpe) return undefined;
  // cpe:/o:redhat:enterprise_linux:9::baseos, cpe:/a:redhat:rhel_eus:9.0::appstream
  const m = /^cpe:\/[aoh]:redhat:(enterprise_linux|rhel_eus|rhel_aus|rhel_e4s|rhel_tus|rhel_els|rhel_eus_long_life):(\d+)/.exec(cpe);
  if (!m) return undefined;
  // EUS streams sometimes carry the plain enterprise_linux CPE; their product ids say EUS.
  const extended = m[1] !== 'enterprise_linux' || /(^|[.\-_])(EUS|AUS|E4S|TUS|ELS)([.\-_:]|$)/.test(productId);
  return { major: m[2], main: !extended };
}

// ---- the document -----------------------------------------------------------------------------

interface Product {
  name?: string;
  product_id?: string;
  product_identification_helper?: { purl?: string; cpe?: string };
}
interface Branch {
  category?: string;
  name?: string;
  product?: Product;
  branches?: Branch[];
}
interface Relationship {
  category?: string;
  full_product_name?: Product;
  product_reference?: string;
  relates_to_product_reference?: string;
}
interface CsafVulnerability {
  cve?: string;
  notes?: Array<{ category?: string; text?: string }>;
  references?: Array<{ url?: string; category?: string }>;
  release_date?: string;
  threats?: Array<{ category?: string; details?: string; product_ids?: string[] }>;
  scores?: Array<{ cvss_v3?: { vectorString?: string; baseScore?: number }; products?: string[] }>;
  product_status?: { fixed?: string[]; known_affected?: string[] };
}
export interface CsafDoc {
  document?: {
    category?: string;
    aggregate_severity?: { text?: string };
    references?: Array<{ category?: string; url?: string }>;
    tracking?: { id?: string; status?: string; current_release_date?: string };
  };
  product_tree?: { branches?: Branch[]; full_product_names?: Product[]; relationships?: Relationship[] };
  vulnerabilities?: CsafVulnerability[];
}

interface Acc {
  name: string;
  major: string;
  kinds: Set<'source' | 'binary'>;
  main: string[];
  extended: string[];
  knownAffected: boolean;
  severity: Severity;
  vector?: string;
  score?: number;
}

const DEBUG = /-debug(info|source)$/;

export function csafToAdvisories(doc: CsafDoc, where: string, updater: string): Advisory[] {
  if (!doc || typeof doc !== 'object' || !doc.document || !doc.product_tree || !Array.isArray(doc.vulnerabilities)) {
    throw new Error(`${where}: not a CSAF document (needs "document", "product_tree" and "vulnerabilities")`);
  }
  if (doc.document.tracking?.status === 'deleted') return [];
  const products = new Map<string, Product>();
  const walk = (branches: Branch[] | undefined) => {
    for (const b of branches ?? []) {
      if (b?.product?.product_id) products.set(b.product.product_id, b.product);
      walk(b?.branches);
    }
  };
  walk(doc.product_tree.branches);
  for (const p of doc.product_tree.full_product_names ?? []) if (p?.product_id) products.set(p.product_id, p);
  const rels = new Map<string, Relationship>();
  for (const r of doc.product_tree.relationships ?? []) {
    const id = r?.full_product_name?.product_id;
    if (id && r.product_reference && r.relates_to_product_reference) rels.set(id, r);
  }
  const selfLink = doc.document.references?.find((r) => r?.category === 'self')?.url;
  const aggregate = severityFromText(doc.document.aggregate_severity?.text);
  const out: Advisory[] = [];

  for (const v of doc.vulnerabilities) {
    const id = v?.cve ?? doc.document.tracking?.id;
    if (!id) continue;
    const description = (
      v.notes?.find((n) => n?.category === 'description')?.text ??
      v.notes?.find((n) => n?.category === 'summary')?.text ??
      ''
    ).slice(0, MAX_DESCRIPTION);
    const links: string[] = [];
    for (const r of v.references ?? []) if (typeof r?.url === 'string' && !links.includes(r.url)) links.push(r.url);
    if (selfLink && !links.includes(selfLink)) links.push(selfLink);
    const threat = new Map<string, string>();
    for (const t of v.threats ?? []) {
      if (t?.category !== 'impact' || typeof t.details !== 'string') continue;
      for (const p of t.product_ids ?? []) threat.set(p, t.details);
    }
    const score = new Map<string, { vectorString?: string; baseScore?: number }>();
    for (const s of v.scores ?? []) {
      if (!s?.cvss_v3) continue;
      for (const p of s.products ?? []) score.set(p, s.cvss_v3);
    }
    const acc = new Map<string, Acc>();
    const consider = (pid: string, status: 'fixed' | 'known_affected') => {
      const rel = rels.get(pid);
      if (!rel) return;
      // A component of a module (its platform is itself a relationship): skipped, see above.
      if (rels.has(rel.relates_to_product_reference!)) return;
      const platform = rhelPlatform(
        products.get(rel.relates_to_product_reference!)?.product_identification_helper?.cpe,
        rel.relates_to_product_reference!,
      );
      if (!platform) return;
      const compRef = rel.product_reference!;
      const comp = products.get(compRef);
      let name: string | undefined;
      let evr: string | undefined;
      let arch: string | undefined;
      const purl = comp?.product_identification_helper?.purl ? parsePurl(comp.product_identification_helper.purl) : undefined;
      if (purl) {
        if (purl.type !== 'rpm' || purl.qualifiers.rpmmod) return;
        name = purl.name;
        arch = purl.qualifiers.arch;
        if (purl.version) {
          const epoch = purl.qualifiers.epoch;
          evr = epoch && epoch !== '0' ? `${epoch}:${purl.version}` : purl.version;
        }
      } else {
        // No purl: the product id is a NEVRA (name-epoch:version-release.arch) or a bare name.
        const n = parseRpmNEVRA(compRef);
        if (n?.name && n.release !== undefined) {
          name = n.name;
          arch = n.arch;
          evr = `${n.epoch !== '0' ? `${n.epoch}:` : ''}${n.version}-${n.release}`;
        } else if (/^[A-Za-z0-9._+-]+$/.test(compRef)) {
          name = compRef.replace(/\.src$/, '');
          if (compRef.endsWith('.src')) arch = 'src';
        }
      }
      if (!name || DEBUG.test(name)) return;
      if (status === 'fixed' && !evr) return;
      const key = `${name}\0${platform.major}`;
      let a = acc.get(key);
      if (!a) {
        a = { name, major: platform.major, kinds: new Set(), main: [], extended: [], knownAffected: false, severity: 'Unknown' };
        acc.set(key, a);
      }
      a.kinds.add(arch === 'src' ? 'source' : 'binary');
      if (status === 'fixed') (platform.main ? a.main : a.extended).push(evr!);
      else a.knownAffected = true;
      const t = threat.get(pid);
      if (t) a.severity = maxSeverity(a.severity, severityFromText(t));
      const sc = score.get(pid);
      if (sc && !a.vector && typeof sc.vectorString === 'string') {
        a.vector = sc.vectorString;
        if (typeof sc.baseScore === 'number') a.score = sc.baseScore;
      }
    };
    for (const pid of v.product_status?.fixed ?? []) consider(pid, 'fixed');
    for (const pid of v.product_status?.known_affected ?? []) consider(pid, 'known_affected');

    for (const a of acc.values()) {
      let fixedIn: string | null;
      if (a.main.length) fixedIn = a.main.reduce((x, y) => (compareRpmEVR(x, y) >= 0 ? x : y));
      else if (a.knownAffected) fixedIn = null;
      else fixedIn = a.extended.reduce((x, y) => (compareRpmEVR(x, y) <= 0 ? x : y));
      const rec: Advisory = {
        updater,
        id,
        aliases: [],
        ecosystem: 'rpm',
        distribution: { id: 'rhel', versionId: a.major },
        package: a.name,
        packageKind: a.kinds.size === 1 ? [...a.kinds][0] : 'any',
        ranges: [fixedIn ? [{ introduced: '0' }, { fixed: fixedIn }] : [{ introduced: '0' }]],
        fixedIn,
        severity: a.severity !== 'Unknown' ? a.severity : aggregate,
        links,
        description,
      };
      if (a.vector) rec.severityVector = a.vector;
      if (a.score !== undefined) rec.score = a.score;
      if (v.release_date) rec.published = v.release_date;
      if (doc.document.tracking?.current_release_date) rec.modified = doc.document.tracking.current_release_date;
      out.push(rec);
    }
  }
  return out;
}

// ---- reading files ----------------------------------------------------------------------------

async function* tarJsonEntries(stream: Readable, label: string): AsyncGenerator<{ name: string; data: Buffer }> {
  const extract = tar.extract();
  stream.on('error', (err) => extract.destroy(err));
  stream.pipe(extract);
  type Entry = AsyncIterable<Buffer> & {
    header: { name: string; type?: string | null; size?: number | null };
    resume(): unknown;
    on(e: string, f: (...a: unknown[]) => void): unknown;
  };
  try {
    for await (const entry of extract as unknown as AsyncIterable<Entry>) {
      const h = entry.header;
      if ((h.type ?? 'file') !== 'file' || !h.name.toLowerCase().endsWith('.json')) {
        await new Promise<void>((resolve, reject) => {
          entry.on('end', () => resolve());
          entry.on('error', (e) => reject(e));
          entry.resume();
        });
        continue;
      }
      if ((h.size ?? 0) > MAX_DOC) throw new Error(`${label}!${h.name} is larger than ${MAX_DOC} bytes`);
      const parts: Buffer[] = [];
      for await (const c of entry) parts.push(c);
      yield { name: h.name, data: Buffer.concat(parts) };
    }
  } catch (err) {
    throw new Error(`${label}: not a readable CSAF archive: ${(err as Error).message}`);
  }
}

async function* docsInFile(file: string, label: string): AsyncGenerator<{ doc: CsafDoc; where: string }> {
  const { compression, firstByte } = await sniff(file);
  if (compression === 'zip')
    throw new Error(`${label}: a zip is not a CSAF document or archive (expected JSON or a tar, plain, .zst or .gz)`);
  let single = compression === 'none' && firstByte === 0x7b; /* { */
  if (compression !== 'none') {
    // Compressed: a single document (.json.gz) or an archive (.tar.zst as Red Hat publishes it).
    const peek = await openDecoded(file);
    try {
      for await (const c of peek) {
        single = /^\s*\{/.test((c as Buffer).subarray(0, 64).toString('latin1'));
        break;
      }
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    } finally {
      peek.destroy();
    }
  }
  if (single) {
    yield { doc: parseJson(await readDecoded(file, MAX_DOC), label) as CsafDoc, where: label };
    return;
  }
  for await (const { name, data } of tarJsonEntries(await openDecoded(file), label)) {
    yield { doc: parseJson(data, `${label}!${name}`) as CsafDoc, where: `${label}!${name}` };
  }
}

async function* readCsaf(sources: LocalSource[], updater: string): AsyncGenerator<Advisory> {
  for (const src of sources) {
    const files =
      src.kind === 'dir'
        ? (await listFiles(src.path))
            .filter((f) => /\.(json|tar|tar\.zst|tar\.gz)$/i.test(f))
            .map((f) => ({ file: path.join(src.path, f), label: path.join(src.origin, f) }))
        : [{ file: src.path, label: src.origin }];
    for (const { file, label } of files) {
      for await (const { doc, where } of docsInFile(file, label)) yield* csafToAdvisories(doc, where, updater);
    }
  }
}

export function redhatCsafUpdater(o: { enabledByDefault?: boolean } = {}): Updater {
  return defineUpdater({
    name: 'redhat-csaf',
    description: 'Red Hat CSAF VEX (RHEL rpm packages)',
    defaultBase: REDHAT_VEX_BASE,
    defaultPaths: ['archive_latest.txt'],
    enabledByDefault: o.enabledByDefault ?? true,
    async urls(base, { getText }) {
      const name = (await getText(joinUrl(base, 'archive_latest.txt'))).trim();
      if (!/^[\w.-]+$/.test(name)) throw new Error(`archive_latest.txt names ${JSON.stringify(name.slice(0, 80))}, not an archive file`);
      return [joinUrl(base, name)];
    },
    read: (sources, ctx) => readCsaf(sources, ctx.updater),
  });
}
