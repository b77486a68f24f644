// Reading Clair's own export (`clairctl export-updaters`, claircore's libvuln/jsonblob): one JSON
// object per line,
//
//   {"Updater":"alpine-main-v3.18-updater","Fingerprint":"…","Date":"2024-…Z",
//    "Ref":"<uuid of one update operation>","Kind":"vulnerability","Vuln":{claircore.Vulnerability}}
//
// (`Kind: "enrichment"` lines carry CVSS enrichments: skipped). Lines of one update operation share
// a Ref; Berth keeps, per Clair updater, the operation with the latest Date. Each Clair updater
// becomes a Berth data set named `clair:<Updater>`, so it sits beside Berth's own updaters
// without mixing with them. The Vuln is mapped to Berth's Advisory: name → id, package.name →
// package, distribution.did + version_id → distribution, fixed_in_version / range → OSV events,
// normalized_severity → severity, links (space separated) → links. Records Berth cannot match
// (no package name, an ecosystem with no version scheme here) are counted and left out.
import type { OsvEvent } from '../versions/index.js';
import { SEVERITIES, severityFromText, type Advisory, type AdvisoryEcosystem, type Severity } from '../model.js';

export interface ClairLine {
  Updater: string;
  Fingerprint?: string;
  Date?: string;
  Ref: string;
  Kind?: string;
  Vuln?: ClairVuln;
  Enrichment?: unknown;
}

interface ClairVuln {
  id?: string;
  name?: string;
  description?: string;
  issued?: string;
  links?: string;
  severity?: string;
  normalized_severity?: string;
  package?: { name?: string; kind?: string; version?: string } | null;
  distribution?: { did?: string; name?: string; version?: string; version_id?: string; version_code_name?: string } | null;
  repository?: { name?: string; uri?: string } | null;
  fixed_in_version?: string;
  range?: Record<string, string> | null;
}

export function isClairLine(o: unknown): o is ClairLine {
  const x = o as Record<string, unknown>;
  return !!x && typeof x === 'object' && typeof x.Updater === 'string' && 'Ref' in x && ('Vuln' in x || 'Enrichment' in x || 'Kind' in x);
}

export const clairUpdaterName = (u: string) => `clair:${u}`;

const RPM_DISTS = new Set(['rhel', 'centos', 'rocky', 'almalinux', 'fedora', 'ol', 'amzn', 'sles', 'opensuse-leap', 'photon']);

function ecosystemOf(v: ClairVuln, updater: string): AdvisoryEcosystem | undefined {
  const did = v.distribution?.did?.toLowerCase();
  if (did) {
    if (did === 'debian' || did === 'ubuntu') return 'dpkg';
    if (did === 'alpine') return 'apk';
    if (RPM_DISTS.has(did)) return 'rpm';
  }
  const hint = `${v.repository?.name ?? ''} ${v.repository?.uri ?? ''} ${updater}`.toLowerCase();
  if (/pypi|python/.test(hint)) return 'pep440';
  if (/npm/.test(hint)) return 'npm';
  if (/\bgo\b|golang|osv\/go/.test(hint)) return 'go';
  if (/maven/.test(hint)) return 'maven';
  if (/alpine/.test(hint)) return 'apk';
  if (/debian|ubuntu/.test(hint)) return 'dpkg';
  if (/rhel|red ?hat/.test(hint)) return 'rpm';
  return undefined;
}

function ranges(v: ClairVuln): OsvEvent[][] | null {
  const r = v.range ?? undefined;
  if (r && (r['['] || r[')'] || r[']'])) {
    const ev: OsvEvent[] = [{ introduced: r['['] || '0' }];
    if (r[')']) ev.push({ fixed: r[')'] });
    else if (r[']']) ev.push({ last_affected: r[']'] });
    return [ev];
  }
  const f = (v.fixed_in_version ?? '').trim();
  if (!f) return [[{ introduced: '0' }]];
  if (f.includes('=')) {
    // Clair's OSV updater writes url-encoded bounds: fixed=1.2.3&introduced=1.0
    const q = new URLSearchParams(f);
    const ev: OsvEvent[] = [{ introduced: q.get('introduced') || '0' }];
    if (q.get('fixed')) ev.push({ fixed: q.get('fixed')! });
    else if (q.get('lastAffected')) ev.push({ last_affected: q.get('lastAffected')! });
    return [ev];
  }
  if (f === '0') return null; // "never affected"
  return [[{ introduced: '0' }, { fixed: f }]];
}

function fixedOf(rs: OsvEvent[][]): string | null {
  for (const ev of rs[0] ?? []) if ('fixed' in ev) return ev.fixed;
  return null;
}

/** One Clair vulnerability as a Berth advisory, or null when Berth cannot use it. */
export function clairToAdvisory(v: ClairVuln, clairUpdater: string): Advisory | null {
  const id = (v.name || v.id || '').trim();
  const pkg = v.package?.name?.trim();
  if (!id || !pkg) return null;
  const ecosystem = ecosystemOf(v, clairUpdater);
  if (!ecosystem) return null;
  const rs = ranges(v);
  if (!rs) return null;
  let distribution: Advisory['distribution'] = null;
  const d = v.distribution;
  if (d?.did && (ecosystem === 'dpkg' || ecosystem === 'apk' || ecosystem === 'rpm')) {
    let ver = (d.version_id || d.version || '').trim();
    if (ecosystem === 'rpm') ver = ver.split('.')[0];
    if (ecosystem === 'apk') ver = ver.split('.').slice(0, 2).join('.');
    distribution = { id: d.did.toLowerCase(), versionId: ver };
  }
  const severity: Severity = (SEVERITIES as readonly string[]).includes(v.normalized_severity ?? '')
    ? (v.normalized_severity as Severity)
    : severityFromText(v.severity);
  const a: Advisory = {
    updater: clairUpdaterName(clairUpdater),
    id,
    aliases: [],
    ecosystem,
    distribution,
    package: pkg,
    packageKind: v.package?.kind === 'source' ? 'source' : 'any',
    ranges: rs,
    fixedIn: fixedOf(rs),
    severity,
    links: (v.links ?? '').split(/\s+/).filter(Boolean),
    description: (v.description ?? '').slice(0, 8000),
  };
  if (v.issued && !v.issued.startsWith('0001-')) a.published = v.issued;
  return a;
}
