// apk packages (Alpine). The secdb and OSV Alpine file advisories by origin (the aports source
// package), so a package is looked up by its origin, or its own name when it has none. The version
// is the package's (sub-packages share their origin's version). Distribution: Alpine by
// major.minor of VERSION_ID; pre-release VERSION_IDs (3.20_alpha20240101) are edge.
// Version order: the apk-tools of that release (versions/apk2.ts up to 3.22, apk.ts from 3.23 and
// on edge), since `apk upgrade` on the image decides with it what is newer.
import { apkForRelease } from '../versions/index.js';
import type { Matcher } from './types.js';

export const apkMatcher: Matcher = {
  name: 'apk',
  ecosystem: 'apk',
  handles: (p) => p.ecosystem === 'apk',
  distribution(dist) {
    if (!dist || dist.id !== 'alpine') return undefined;
    const v = dist.version_id ?? '';
    if (/_(alpha|beta|rc)|edge/.test(v)) return { id: 'alpine', versionId: 'edge' };
    const m = /^(\d+\.\d+)/.exec(v);
    return m ? { id: 'alpine', versionId: m[1] } : undefined;
  },
  versionScheme: (dist) => apkForRelease(dist?.versionId).name,
  lookups: (p) => [{ name: p.source?.name || p.name, version: p.version }],
};
