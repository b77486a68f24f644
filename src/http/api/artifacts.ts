// /api/v1/repository/{name}/charts and /api/v1/repository/{name}/manifest/{digest}: chart versions with their
// Chart.yaml metadata, artifact types and annotations, referrers grouped by type (rows of route-table.ts).
import { sendJson } from './principal.js';
import type { ApiHandler } from './types.js';

export const charts: ApiHandler = async ({ reply, params: { name }, principal, deps: { accounts, artifacts } }) => {
  await accounts.repos.requireAccess(principal, name, 'read');
  return sendJson(reply, 200, await artifacts.charts(name));
};

export const manifest: ApiHandler = async ({ reply, params: { name, digest }, principal, deps: { accounts, artifacts } }) => {
  await accounts.repos.requireAccess(principal, name, 'read');
  return sendJson(reply, 200, await artifacts.manifest(name, digest));
};
