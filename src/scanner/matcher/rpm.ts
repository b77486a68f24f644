// rpm packages (RHEL). Red Hat's VEX files name binary rpms (fixed) and source components
// (known affected), so a package is looked up by its name and by its source rpm's name; versions
// are compared as rpm EVRs (epoch:version-release, rpmvercmp), a missing epoch being 0.
// Distribution: by major version (VERSION_ID 9.4 -> 9): RHEL (Red Hat's VEX), Rocky Linux and
// AlmaLinux (their OSV feeds). Other rpm distributions have no data yet and are reported unsupported.
import type { Matcher, Lookup } from './types.js';

const RPM_DISTROS = new Set(['rhel', 'rocky', 'almalinux']);

export const rpmMatcher: Matcher = {
  name: 'rpm',
  ecosystem: 'rpm',
  handles: (p) => p.ecosystem === 'rpm',
  distribution(dist) {
    if (!dist || !RPM_DISTROS.has(dist.id)) return undefined;
    const m = /^(\d+)/.exec(dist.version_id ?? '');
    return m ? { id: dist.id, versionId: m[1] } : undefined;
  },
  lookups(p) {
    const out: Lookup[] = [{ name: p.name, version: p.version }];
    if (p.source?.name && p.source.name !== p.name) out.push({ name: p.source.name, version: p.source.version || p.version });
    return out;
  },
};
