// Clair v4's JSON shapes (claircore's IndexReport, VulnerabilityReport, Manifest, notifications),
// and the conversions from Berth's indexer/matcher results. Field names are exactly Clair's so Quay
// (or any Clair client) can talk to Berth's scanner, and Berth can talk to a real Clair.
import type { Distribution, Package } from './indexer/types.js';
import type { MatchReport } from './matcher/types.js';

/** What Quay POSTs to /indexer/api/v1/index_report. */
export interface ClairManifest {
  hash: string;
  layers: Array<{ hash: string; uri?: string; headers?: Record<string, string[]> }>;
}

export interface ClairPackage {
  id: string;
  name: string;
  version: string;
  kind: string;
  source?: ClairPackage;
  normalized_version?: string;
  arch?: string;
  module?: string;
  cpe?: string;
  package_db?: string;
  repository_hint?: string;
}

export interface ClairDistribution {
  id: string;
  did: string;
  name: string;
  version: string;
  version_code_name: string;
  version_id: string;
  arch: string;
  cpe: string;
  pretty_name: string;
}

export interface ClairEnvironment {
  package_db: string;
  introduced_in: string;
  distribution_id: string;
  repository_ids: string[];
}

export interface ClairIndexReport {
  manifest_hash: string;
  state: string;
  packages: Record<string, ClairPackage>;
  distributions: Record<string, ClairDistribution>;
  repository: Record<string, unknown>;
  environments: Record<string, ClairEnvironment[]>;
  success: boolean;
  err: string;
}

export interface ClairVulnerability {
  id: string;
  updater: string;
  name: string;
  description: string;
  issued: string;
  links: string;
  severity: string;
  normalized_severity: string;
  package: ClairPackage;
  distribution?: ClairDistribution;
  repository?: Record<string, unknown>;
  fixed_in_version: string;
}

export interface ClairVulnerabilityReport {
  manifest_hash: string;
  packages: Record<string, ClairPackage>;
  distributions: Record<string, ClairDistribution>;
  repository: Record<string, unknown>;
  environments: Record<string, ClairEnvironment[]>;
  vulnerabilities: Record<string, ClairVulnerability>;
  package_vulnerabilities: Record<string, string[]>;
  enrichments: Record<string, unknown>;
}

/** Berth's stored index result of one manifest (scan_report.report). */
export interface StoredIndex {
  manifest: string;
  /** 'indexed', or 'unsupported' (nothing recognisable) */
  state: 'indexed' | 'unsupported';
  /** Why it is unsupported. */
  reason?: string;
  layers: string[];
  distribution?: Distribution;
  packages: Package[];
}

/** claircore's kinds for our ecosystems (package_db tells the ecosystem apart, as in Clair). */
function clairKind(_p: Package): string {
  return 'binary';
}

export function clairDistribution(d: Distribution): ClairDistribution {
  return {
    id: '1',
    did: d.id,
    name: d.name ?? d.id,
    version: d.version ?? '',
    version_code_name: d.version_codename ?? '',
    version_id: d.version_id ?? '',
    arch: '',
    cpe: d.cpe ?? '',
    pretty_name: d.pretty_name ?? '',
  };
}

function packageDb(p: Package): string {
  // claircore prefixes language package databases with the ecosystem ("python:", "nodejs:", "go:", "maven:").
  const prefix = { pypi: 'python:', npm: 'nodejs:', go: 'go:', maven: 'maven:' } as Record<string, string>;
  return (prefix[p.ecosystem] ?? '') + p.path;
}

/** The Clair IndexReport of a stored index result. */
export function toClairIndexReport(s: StoredIndex, err = ''): ClairIndexReport {
  const packages: Record<string, ClairPackage> = {};
  const environments: Record<string, ClairEnvironment[]> = {};
  const distributions: Record<string, ClairDistribution> = s.distribution ? { '1': clairDistribution(s.distribution) } : {};
  s.packages.forEach((p, i) => {
    const id = String(i + 1);
    const cp: ClairPackage = {
      id,
      name: p.name,
      version: p.version,
      kind: clairKind(p),
      normalized_version: '',
      arch: p.arch ?? '',
      module: '',
      cpe: '',
      package_db: packageDb(p),
      repository_hint: p.ecosystem,
    };
    if (p.source) cp.source = { id: `${id}-src`, name: p.source.name, version: p.source.version, kind: 'source' };
    packages[id] = cp;
    const isOs = p.ecosystem === 'deb' || p.ecosystem === 'apk' || p.ecosystem === 'rpm';
    environments[id] = [
      {
        package_db: packageDb(p),
        introduced_in: s.layers[p.layerIndex] ?? '',
        distribution_id: isOs && s.distribution ? '1' : '',
        repository_ids: [],
      },
    ];
  });
  return {
    manifest_hash: s.manifest,
    state: err ? 'IndexError' : 'IndexFinished',
    packages,
    distributions,
    repository: {},
    environments,
    success: !err,
    err,
  };
}

/** The Clair VulnerabilityReport of a stored index result and its match. */
export function toClairVulnerabilityReport(s: StoredIndex, m: MatchReport): ClairVulnerabilityReport {
  const ir = toClairIndexReport(s);
  const vulnerabilities: Record<string, ClairVulnerability> = {};
  const package_vulnerabilities: Record<string, string[]> = {};
  m.packages.forEach((pr, i) => {
    const pid = String(i + 1);
    const isOs = ['deb', 'apk', 'rpm'].includes(pr.package.ecosystem);
    for (const v of pr.vulnerabilities) {
      // One vulnerability record per (advisory, package), keyed like claircore's numeric ids but stable.
      const vid = `${v.updater}:${v.id}:${pid}`;
      vulnerabilities[vid] = {
        id: vid,
        updater: v.updater,
        name: v.id,
        description: v.description,
        issued: '',
        links: v.links.join(' '),
        severity: v.severityVector ? `${v.severity} ${v.severityVector}` : v.severity,
        normalized_severity: v.severity,
        package: { id: '', name: v.package, version: '', kind: 'binary' },
        ...(isOs && s.distribution ? { distribution: clairDistribution(s.distribution) } : {}),
        repository: {},
        fixed_in_version: v.fixedIn ?? '',
      };
      package_vulnerabilities[pid] ??= [];
      package_vulnerabilities[pid].push(vid);
    }
  });
  return {
    manifest_hash: s.manifest,
    packages: ir.packages,
    distributions: ir.distributions,
    repository: {},
    environments: ir.environments,
    vulnerabilities,
    package_vulnerabilities,
    enrichments: {},
  };
}

/** Clair notification (notifier page entry). */
export interface ClairNotification {
  id: string;
  manifest: string;
  reason: 'added' | 'removed';
  vulnerability: {
    name: string;
    fixed_in_version: string;
    links: string;
    description: string;
    normalized_severity: string;
    package: { name: string; version: string; kind: string };
    distribution?: ClairDistribution;
    repository?: Record<string, unknown>;
  };
}
