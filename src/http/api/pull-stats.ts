// Quay's pull statistics: GET /api/v1/repository/{name}/tag/{tag}/pull_statistics and
// GET /api/v1/repository/{name}/manifest/{digest}/pull_statistics (read permission). Matched from repos.ts
// (repository names contain "/"). Counts reach the database in batches (PULL_METRICS_FLUSH_SECONDS).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RepoRole } from '../../db/types.js';
import type { RepoFacts } from '../../services/accounts/permissions.js';
import type { PullRecorder } from '../../services/pull-stats.js';
import { looksLikeDigest } from '../../oci/digest.js';
import { ApiError } from './errors.js';
import { sendJson } from './principal.js';

export type PullStatsPath = { name: string; tag: string } | { name: string; digest: string };

export function matchPullStatsPath(rest: string): PullStatsPath | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^(.+)\/tag\/([^/]+)\/pull_statistics\/?$/.exec(rest))) return { name: m[1], tag: m[2] };
  if ((m = /^(.+)\/manifest\/([^/]+)\/pull_statistics\/?$/.exec(rest))) return { name: m[1], digest: m[2] };
  return undefined;
}

export async function handlePullStatsPath(req: FastifyRequest, reply: FastifyReply, p: PullStatsPath, pulls: PullRecorder,
  need: (req: FastifyRequest, name: string, role: RepoRole) => Promise<{ repo: RepoFacts }>): Promise<FastifyReply> {
  if (req.method !== 'GET') throw new ApiError(405, `${req.method} is not supported here`);
  const { repo } = await need(req, p.name, 'read');
  if ('digest' in p) {
    if (!looksLikeDigest(p.digest)) throw new ApiError(400, `"${p.digest.slice(0, 100)}" is not a manifest digest (algorithm:hex)`);
    return sendJson(reply, 200, await pulls.manifestStatistics(repo.id, p.digest));
  }
  const s = await pulls.tagStatistics(repo.id, p.tag);
  if (!s) throw new ApiError(404, `tag "${p.tag.slice(0, 128)}" is not in repository "${p.name}" and was never pulled`);
  return sendJson(reply, 200, s);
}
