// Quay's pull statistics (rows of route-table.ts): GET /api/v1/repository/{name}/tag/{tag}/pull_statistics
// and GET /api/v1/repository/{name}/manifest/{digest}/pull_statistics, with read permission. Counts reach
// the database in batches (PULL_METRICS_FLUSH_SECONDS; src/services/pull-stats.ts).
import { looksLikeDigest } from '../../oci/digest.js';
import { ApiError } from './errors.js';
import { sendJson } from './principal.js';
import type { ApiHandler } from './types.js';

export const tagPullStatistics: ApiHandler = async ({ reply, params: { name, tag }, principal, deps: { accounts } }) => {
  const { repo } = await accounts.repos.requireAccess(principal, name, 'read');
  const s = await accounts.ctx.pulls?.tagStatistics(repo.id, tag);
  if (!s) throw new ApiError(404, `tag "${tag.slice(0, 128)}" is not in repository "${name}" and was never pulled`);
  return sendJson(reply, 200, s);
};

export const manifestPullStatistics: ApiHandler = async ({ reply, params: { name, digest }, principal, deps: { accounts } }) => {
  const { repo } = await accounts.repos.requireAccess(principal, name, 'read');
  if (!looksLikeDigest(digest)) throw new ApiError(400, `"${digest.slice(0, 100)}" is not a manifest digest (algorithm:hex)`);
  const s = await accounts.ctx.pulls?.manifestStatistics(repo.id, digest);
  return sendJson(reply, 200, s ?? { manifest_digest: digest, manifest_pull_count: 0, last_manifest_pull_date: null });
};
