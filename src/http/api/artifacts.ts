// /api/v1/repository/{name}/charts and /api/v1/repository/{name}/manifest/{digest}: chart versions with their
// Chart.yaml metadata, artifact types and annotations, referrers grouped by type. Matched from repos.ts
// (repository names contain "/").
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RepoRole } from '../../db/types.js';
import type { ArtifactService } from '../../services/artifacts.js';
import { ApiError } from './errors.js';
import { sendJson } from './principal.js';

export type ArtifactPath = { name: string; kind: 'charts' } | { name: string; kind: 'manifest'; digest: string };

export function matchArtifactPath(rest: string): ArtifactPath | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^(.+)\/charts\/?$/.exec(rest))) return { name: m[1], kind: 'charts' };
  if ((m = /^(.+)\/manifest\/([^/]+)$/.exec(rest))) return { name: m[1], kind: 'manifest', digest: m[2] };
  return undefined;
}

export async function handleArtifactPath(req: FastifyRequest, reply: FastifyReply, p: ArtifactPath, artifacts: ArtifactService,
  need: (req: FastifyRequest, name: string, role: RepoRole) => Promise<unknown>): Promise<FastifyReply> {
  if (req.method !== 'GET') throw new ApiError(405, `${req.method} is not supported here`);
  await need(req, p.name, 'read');
  if (p.kind === 'charts') return sendJson(reply, 200, await artifacts.charts(p.name));
  return sendJson(reply, 200, await artifacts.manifest(p.name, p.digest));
}
