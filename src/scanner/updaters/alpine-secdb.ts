// Alpine secdb: https://secdb.alpinelinux.org/<release>/<repo>.json, one file per release and
// repository:
//
//   { "distroversion": "v3.10", "reponame": "community", "archs": [...], "urlprefix": ..., "apkurl": ...,
//     "packages": [ { "pkg": { "name": "botan", "secfixes": { "2.9.0-r0": ["CVE-2018-20187"], ... } } } ] }
//
// `name` is the origin (source) package (aports directory). A secfixes key is the first fixed
// version of the listed ids in that release, so each becomes "affected below that version". The key
// "0" means "never affected" and produces nothing. An id entry may carry more than one id
// ("CVE-2020-1234 XSA-123"): the first is the id, the others aliases.
import { parseJson, readDecoded, listFiles, type LocalSource } from './fetcher.js';
import { defineUpdater, type Updater } from './updater.js';
import type { Advisory } from '../model.js';
import path from 'node:path';

export const ALPINE_SECDB_BASE = 'https://secdb.alpinelinux.org';
/** Releases fetched by default (the supported ones and a few before them). */
export const ALPINE_RELEASES = ['v3.16', 'v3.17', 'v3.18', 'v3.19', 'v3.20', 'v3.21', 'v3.22', 'edge'];
export const ALPINE_REPOS = ['main', 'community'];
const MAX_FILE = 64 * 1024 * 1024;

interface SecdbDoc {
  distroversion?: unknown;
  reponame?: unknown;
  packages?: Array<{ pkg?: { name?: unknown; secfixes?: Record<string, unknown> } }>;
}

/** `v3.10` -> `3.10`, `edge` -> `edge`; undefined when unreadable. */
export function alpineVersionId(distroversion: string): string | undefined {
  if (distroversion === 'edge') return 'edge';
  return /^v?(\d+\.\d+)/.exec(distroversion)?.[1];
}

export function secdbToAdvisories(doc: SecdbDoc, where: string, updater: string): Advisory[] {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc) || typeof doc.distroversion !== 'string' || !Array.isArray(doc.packages)) {
    throw new Error(`${where}: not an Alpine secdb document (needs "distroversion" and "packages")`);
  }
  const versionId = alpineVersionId(doc.distroversion);
  if (!versionId) throw new Error(`${where}: unreadable distroversion ${JSON.stringify(doc.distroversion)}`);
  const out: Advisory[] = [];
  for (const [i, p] of doc.packages.entries()) {
    const name = p?.pkg?.name;
    const secfixes = p?.pkg?.secfixes;
    if (typeof name !== 'string' || !name) throw new Error(`${where}: packages[${i}] has no pkg.name`);
    if (secfixes === undefined || secfixes === null) continue;
    if (typeof secfixes !== 'object' || Array.isArray(secfixes))
      throw new Error(`${where}: packages[${i}] (${name}): secfixes is not an object`);
    const byId = new Map<string, Advisory>();
    for (const [fixed, ids] of Object.entries(secfixes)) {
      if (!Array.isArray(ids)) throw new Error(`${where}: ${name} ${fixed}: expected a list of ids`);
      if (fixed === '0') continue; // never affected in this release
      for (const raw of ids) {
        if (typeof raw !== 'string') continue;
        const [id, ...aliases] = raw.trim().split(/\s+/);
        if (!id) continue;
        const prev = byId.get(id);
        if (prev) {
          // Listed under two fixed versions: affected below either (the later one bounds it).
          prev.ranges.push([{ introduced: '0' }, { fixed }]);
          continue;
        }
        const a: Advisory = {
          updater,
          id,
          aliases,
          ecosystem: 'apk',
          distribution: { id: 'alpine', versionId },
          package: name,
          packageKind: 'source',
          ranges: [[{ introduced: '0' }, { fixed }]],
          fixedIn: fixed,
          severity: 'Unknown',
          links: /^CVE-\d+-\d+$/.test(id) ? [`https://security.alpinelinux.org/vuln/${id}`] : [],
          description: '',
        };
        byId.set(id, a);
        out.push(a);
      }
    }
  }
  return out;
}

async function* readSecdb(sources: LocalSource[], updater: string): AsyncGenerator<Advisory> {
  for (const src of sources) {
    const files =
      src.kind === 'dir'
        ? (await listFiles(src.path))
            .filter((f) => f.endsWith('.json'))
            .map((f) => ({ file: path.join(src.path, f), label: path.join(src.origin, f) }))
        : [{ file: src.path, label: src.origin }];
    for (const { file, label } of files) {
      const doc = parseJson(await readDecoded(file, MAX_FILE), label) as SecdbDoc;
      yield* secdbToAdvisories(doc, label, updater);
    }
  }
}

export interface AlpineSecdbOptions {
  releases?: string[];
  repos?: string[];
  enabledByDefault?: boolean;
}

export function alpineSecdbUpdater(o: AlpineSecdbOptions = {}): Updater {
  const releases = o.releases ?? ALPINE_RELEASES;
  const repos = o.repos ?? ALPINE_REPOS;
  const paths = releases.flatMap((r) => repos.map((repo) => `${r}/${repo}.json`));
  return defineUpdater({
    name: 'alpine-secdb',
    description: `Alpine secdb (${releases.join(', ')}; ${repos.join(', ')})`,
    defaultBase: ALPINE_SECDB_BASE,
    defaultPaths: paths,
    enabledByDefault: o.enabledByDefault ?? true,
    // A release may have no community file (or not exist yet): a 404 leaves it out.
    optional: () => true,
    read: (sources, ctx) => readSecdb(sources, ctx.updater),
  });
}
