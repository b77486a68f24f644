// Quay's quota fields on organization and repository responses (FEATURE_QUOTA_MANAGEMENT on).
import type { QuotaService } from '../../services/quota/quotas.js';

/** `quotas` (the namespace's quota views) and `quota_report` of an organization, for its members. */
export async function orgQuotaFields(quota: QuotaService, org: string): Promise<Record<string, unknown>> {
  return { quotas: await quota.list(org), quota_report: await quota.namespaceReport(org) };
}

/** A function that gives each repository view its `quota_report` (nothing when quotas are off). */
export async function repoQuotaReports(
  quota: QuotaService | undefined,
  repos: { namespace: string; name: string }[],
): Promise<(r: { namespace: string; name: string }) => Record<string, unknown>> {
  if (!quota) return () => ({});
  const reports = await quota.repositoryReports(repos.map((r) => `${r.namespace}/${r.name}`));
  return (r) => {
    const report = reports.get(`${r.namespace}/${r.name}`);
    return report ? { quota_report: report } : {};
  };
}
