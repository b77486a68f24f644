// GET /api/v1/repository/{namespace}/{repo}/manifest/{digest}/security[?vulnerabilities=true]
// in Quay's shape: { status: "queued" | "scanned" | "failed" | "unsupported", data: null | { Layer: {
//   Name, ParentName, NamespaceName, IndexedByVersion, Features: [{ Name, VersionFormat, NamespaceName,
//   AddedBy, Version, BaseScores, CVEIds, Vulnerabilities?: [{ Severity, NamespaceName, Link, FixedBy,
//   Description, Name, Metadata }] }] } } }. Read permission on the repository is required.
// Repository names may have any number of segments (org/team/app); repos.ts matches the path.
// A manifest with no recognisable packages is "unsupported", never "scanned" with no findings.
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AccountServices } from '../../services/accounts/index.js';
import type { ScannerService } from '../../scanner/service.js';
import type { ClairVulnerabilityReport } from '../../scanner/clair.js';
import { ApiError } from './errors.js';


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

/** `{name}/manifest/{digest}/security` of a /api/v1/repository/ path (names may have any number of segments). */
export function matchSecurityPath(rest: string): { name: string; digest: string } | undefined {
  const m = /^(.+)\/manifest\/([^/]+)\/security\/?$/.exec(rest);
  return m ? { name: m[1], digest: m[2] } : undefined;
}

export type SecurityHandler = (req: FastifyRequest, name: string, digest: string) => Promise<Record<string, unknown>>;

/** The security report of one manifest of one repository (matched from repos.ts, like the other repository routes). */
export function securityHandler(accounts: AccountServices, scanner: ScannerService): SecurityHandler {
  return async (req, name, digest) => {
    if (req.method !== 'GET') throw new ApiError(405, `${req.method} is not supported here`);
    const { repo } = await accounts.repos.requireAccess(req.principal!, name, 'read');
    if (!/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) throw new ApiError(400, `"${digest}" is not a manifest digest`);
    const m = await accounts.ctx.db.selectFrom('manifest').select('digest').where('repository_id', '=', repo.id).where('digest', '=', digest).executeTakeFirst();
    if (!m) throw new ApiError(404, `manifest ${digest} is not in repository "${name}"`);
    const q = z.object({ vulnerabilities: z.enum(['true', 'false', '1', '0', 'True', 'False']).optional() }).parse(req.query);
    const withVulns = q.vulnerabilities === 'true' || q.vulnerabilities === '1' || q.vulnerabilities === 'True';
    const st = await scanner.status(digest);
    switch (st.state) {
      case 'unknown':
        // Pushed before the scanner was on (or its job was removed): queue it now.
        await scanner.enqueue(digest, name);
        return { status: 'queued', data: null };
      case 'queued':
      case 'indexing':
        return { status: 'queued', data: null, ...(st.job.lastError ? { detail: `retrying after: ${st.job.lastError}` } : {}) };
      case 'failed':
        return { status: 'failed', data: null, detail: st.error };
      case 'unsupported':
        return { status: 'unsupported', data: null, detail: st.reason };
      case 'indexed': {
        const report = await scanner.vulnerabilityReport(digest);
        if (!report) return { status: 'queued', data: null };
        // Matched against nothing: say so, rather than let an empty list read as "no known vulnerabilities".
        const noData = (await scanner.hasVulnerabilityData()) === false
          ? { warning: 'no vulnerability data is loaded: run `berth scanner update` (or `berth scanner import-updaters` in an air-gapped site); packages were indexed but not checked against any advisory' }
          : {};
        return { status: 'scanned', data: quaySecurityData(report, withVulns), ...noData };
      }
    }
  };
}
