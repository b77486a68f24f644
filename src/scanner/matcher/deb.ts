// dpkg packages (Debian, Ubuntu). Advisories are filed by source package (Debian tracker, OSV
// Debian/Ubuntu), so a binary is looked up by its source name with the source version, and also by
// its own name with its own version (like Clair), for sources that file by binary name.
// Distribution: Debian by VERSION_ID (major), else by codename; Ubuntu by VERSION_ID (22.04).
import type { Distribution } from '../indexer/types.js';
import { DEBIAN_CODENAMES } from '../updaters/debian-tracker.js';
import type { Lookup, Matcher } from './types.js';

export function debianRelease(dist: Distribution): string | undefined {
  const v = dist.version_id?.trim();
  if (v) return v.split('.')[0];
  const code = dist.version_codename?.trim().toLowerCase();
  if (code) return DEBIAN_CODENAMES[code] ?? code;
  // debian:sid / testing images: PRETTY_NAME "Debian GNU/Linux trixie/sid".
  const m = /\b([a-z]+)\/sid\b/.exec(dist.pretty_name ?? '');
  return m ? 'sid' : undefined;
}

export const debMatcher: Matcher = {
  name: 'deb',
  ecosystem: 'dpkg',
  handles: (p) => p.ecosystem === 'deb',
  distribution(dist) {
    if (!dist) return undefined;
    if (dist.id === 'debian') {
      const v = debianRelease(dist);
      return v ? { id: 'debian', versionId: v } : undefined;
    }
    if (dist.id === 'ubuntu') {
      const m = /^(\d+\.\d+)/.exec(dist.version_id ?? '');
      return m ? { id: 'ubuntu', versionId: m[1] } : undefined;
    }
    return undefined;
  },
  lookups(p) {
    const out: Lookup[] = [];
    if (p.source?.name) out.push({ name: p.source.name, version: p.source.version || p.version });
    if (!out.some((l) => l.name === p.name)) out.push({ name: p.name, version: p.version });
    return out;
  },
};
