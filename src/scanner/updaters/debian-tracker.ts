// Debian security tracker: https://security-tracker.debian.org/tracker/data/json
//
//   { "<source package>": { "CVE-2023-1234": { "description": "...", "scope": "remote", "debianbug": 1234,
//       "releases": { "bookworm": { "status": "resolved", "repositories": { "bookworm": "1.2-3" },
//                                   "fixed_version": "1.2-4", "urgency": "low", "nodsa": "...", ... } } } } }
//
// Per source package, per id, per release:
//   resolved + fixed_version "0"  -> never affected: nothing
//   resolved + fixed_version X    -> affected below X
//   open                          -> affected, no fix yet (every version)
//   undetermined / anything else  -> nothing (no claim we can check)
// Codenames are mapped to version ids (bookworm -> 12); `sid` and unknown codenames keep the
// codename, which the matcher uses for images without a VERSION_ID. Urgency is the severity
// (`unimportant` -> Negligible, `not yet assigned` / `end-of-life` -> Unknown).
//
// The file is ~100 MB: it is read as a stream, one source package at a time.
import path from 'node:path';
import { severityFromText, type Advisory } from '../model.js';
import { listFiles, openDecoded, type LocalSource } from './fetcher.js';
import { topLevelMembers } from './json-stream.js';
import { defineUpdater, type Updater } from './updater.js';

export const DEBIAN_TRACKER_BASE = 'https://security-tracker.debian.org/tracker';

/** Debian codenames and their version ids. */
export const DEBIAN_CODENAMES: Record<string, string> = {
  wheezy: '7',
  jessie: '8',
  stretch: '9',
  buster: '10',
  bullseye: '11',
  bookworm: '12',
  trixie: '13',
  forky: '14',
  duke: '15',
};

export function debianVersionId(codename: string): string {
  return DEBIAN_CODENAMES[codename] ?? codename;
}

interface Release {
  status?: unknown;
  fixed_version?: unknown;
  urgency?: unknown;
}
interface CveInfo {
  description?: unknown;
  debianbug?: unknown;
  releases?: Record<string, Release>;
}

export function trackerPackageToAdvisories(srcpkg: string, cves: unknown, where: string, updater: string): Advisory[] {
  if (!cves || typeof cves !== 'object' || Array.isArray(cves)) {
    throw new Error(`${where}: "${srcpkg}" is not an object of vulnerabilities (is this the security tracker's JSON?)`);
  }
  const out: Advisory[] = [];
  for (const [id, raw] of Object.entries(cves as Record<string, unknown>)) {
    const info = raw as CveInfo;
    if (!info || typeof info !== 'object' || Array.isArray(info)) throw new Error(`${where}: ${srcpkg}/${id} is not an object`);
    const releases = info.releases ?? {};
    if (typeof releases !== 'object' || Array.isArray(releases)) throw new Error(`${where}: ${srcpkg}/${id}: "releases" is not an object`);
    const links = [`https://security-tracker.debian.org/tracker/${id}`];
    if (typeof info.debianbug === 'number') links.push(`https://bugs.debian.org/${info.debianbug}`);
    const description = typeof info.description === 'string' ? info.description : '';
    for (const [codename, r] of Object.entries(releases)) {
      if (!r || typeof r !== 'object') continue;
      const status = r.status;
      const fixed = typeof r.fixed_version === 'string' ? r.fixed_version : undefined;
      let ranges: Advisory['ranges'];
      let fixedIn: string | null = null;
      if (status === 'resolved') {
        if (!fixed || fixed === '0') continue;
        ranges = [[{ introduced: '0' }, { fixed }]];
        fixedIn = fixed;
      } else if (status === 'open') {
        ranges = [[{ introduced: '0' }]];
      } else {
        continue;
      }
      out.push({
        updater,
        id,
        aliases: [],
        ecosystem: 'dpkg',
        distribution: { id: 'debian', versionId: debianVersionId(codename) },
        package: srcpkg,
        packageKind: 'source',
        ranges,
        fixedIn,
        severity: severityFromText(typeof r.urgency === 'string' ? r.urgency : undefined),
        links,
        description,
      });
    }
  }
  return out;
}

async function* readTracker(sources: LocalSource[], updater: string): AsyncGenerator<Advisory> {
  for (const src of sources) {
    const files =
      src.kind === 'dir'
        ? (await listFiles(src.path))
            .filter((f) => /\.json(\.gz)?$/.test(f))
            .map((f) => ({ file: path.join(src.path, f), label: path.join(src.origin, f) }))
        : [{ file: src.path, label: src.origin }];
    for (const { file, label } of files) {
      let n = 0;
      try {
        for await (const [srcpkg, cves] of topLevelMembers(await openDecoded(file))) {
          if (typeof srcpkg === 'number') throw new Error('the top level is an array, not an object of source packages');
          n++;
          yield* trackerPackageToAdvisories(srcpkg, cves, label, updater);
        }
      } catch (err) {
        const msg = (err as Error).message;
        throw new Error(msg.startsWith(label) ? msg : `${label}: ${msg}`);
      }
      if (n === 0) throw new Error(`${label}: no source packages (empty tracker data)`);
    }
  }
}

export function debianTrackerUpdater(o: { enabledByDefault?: boolean } = {}): Updater {
  return defineUpdater({
    name: 'debian-tracker',
    description: 'Debian security tracker (all releases, by source package)',
    defaultBase: DEBIAN_TRACKER_BASE,
    defaultPaths: ['data/json'],
    enabledByDefault: o.enabledByDefault ?? true,
    read: (sources, ctx) => readTracker(sources, ctx.updater),
  });
}
