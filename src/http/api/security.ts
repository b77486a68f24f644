// GET /api/v1/repository/{namespace}/{repo}/manifest/{digest}/security[?vulnerabilities=true]
// in Quay's shape: { status: "queued" | "scanned" | "failed" | "unsupported", data: null | { Layer: {
//   Name, ParentName, NamespaceName, IndexedByVersion, Features: [{ Name, VersionFormat, NamespaceName,
//   AddedBy, Version, BaseScores, CVEIds, Vulnerabilities?: [{ Severity, NamespaceName, Link, FixedBy,
//   Description, Name, Metadata }] }] } } }. Read permission on the repository is required.
// Repository names may have any number of segments (org/team/app); route-table.ts matches the path.
// A manifest with no recognisable packages is "unsupported", never "scanned" with no findings.
import { z } from 'zod';
import type { SecurityState } from '../../scanner/service.js';
import type { ClairVulnerabilityReport } from '../../scanner/clair.js';
import { ApiError } from './errors.js';
import { sendJson } from './principal.js';
import type { ApiHandler } from './types.js';

export function quaySecurityData(r: ClairVulnerabilityReport, withVulns: boolean): Record<string, unknown> {
  const features = Object.values(r.packages).map((p) => {
    const env = r.environments[p.id]?.[0];
    const dist = env?.distribution_id ? r.distributions[env.distribution_id] : undefined;
    const ns = dist ? `${dist.did}:${dist.version_id || dist.version}` : '';
    const vulns = (r.package_vulnerabilities[p.id] ?? []).map((id) => r.vulnerabilities[id]).filter(Boolean);
    const f: Record<string, unknown> = {
      Name: p.name,
      VersionFormat: p.repository_hint ?? '',
      NamespaceName: ns,
      AddedBy: env?.introduced_in ?? '',
      Version: p.version,
      BaseScores: [],
      CVEIds: [...new Set(vulns.map((v) => v.name).filter((n) => n.startsWith('CVE-')))],
    };
    if (withVulns) {
      f.Vulnerabilities = vulns.map((v) => ({
        Severity: v.normalized_severity,
        NamespaceName: ns,
        Link: v.links,
        FixedBy: v.fixed_in_version,
        Description: v.description,
        Name: v.name,
        Metadata: {
          UpdatedBy: v.updater,
          RepoName: null,
          RepoLink: null,
          DistroName: v.distribution?.name ?? '',
          DistroVersion: v.distribution?.version_id ?? '',
          NormalizedSeverity: v.normalized_severity,
        },
      }));
    }
    return f;
  });
  return { Layer: { Name: r.manifest_hash, ParentName: '', NamespaceName: '', IndexedByVersion: 4, Features: features } };
}

/** The security report of one manifest of one repository (served only when the scanner is on). */
export const manifestSecurity: ApiHandler = async ({
  req,
  params: { name, digest },
  reply,
  principal,
  deps: { accounts, artifacts, scanner },
}) => {
  await accounts.repos.requireAccess(principal, name, 'read');
  if (!/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) throw new ApiError(400, `"${digest}" is not a manifest digest`);
  if (!(await artifacts.hasManifest(name, digest))) throw new ApiError(404, `manifest ${digest} is not in repository "${name}"`);
  const q = z.object({ vulnerabilities: z.enum(['true', 'false', '1', '0', 'True', 'False']).optional() }).parse(req.query);
  const withVulns = q.vulnerabilities === 'true' || q.vulnerabilities === '1' || q.vulnerabilities === 'True';
  return sendJson(reply, 200, quaySecurity(await scanner!.security(digest, name), withVulns));
};

/** Quay's security answer for a manifest's state. */
function quaySecurity(st: SecurityState, withVulns: boolean): Record<string, unknown> {
  switch (st.status) {
    case 'queued':
      return { status: 'queued', data: null, ...(st.retrying ? { detail: `retrying after: ${st.retrying}` } : {}) };
    case 'failed':
      return { status: 'failed', data: null, detail: st.error };
    case 'unsupported':
      return { status: 'unsupported', data: null, detail: st.reason };
    case 'scanned':
      return {
        status: 'scanned',
        data: quaySecurityData(st.report, withVulns),
        ...(st.noData
          ? {
              warning:
                'no vulnerability data is loaded: run `berth scanner update` (or `berth scanner import-updaters` in an air-gapped site); packages were indexed but not checked against any advisory',
            }
          : {}),
      };
  }
}
