// GET /api/v1/scanner/updaters: per updater, how old the vulnerability data is and when it was
// last imported from an air-gap bundle. Any signed-in caller (user or robot) may read it: it says
// nothing about repositories, and every user needs to know whether scan results are current.
import { requireSignedIn, sendJson } from './principal.js';
import type { ApiHandler } from './types.js';

export const updaters: ApiHandler = async ({ reply, principal, deps: { updaterStatus } }) => {
  requireSignedIn(principal);
  const ages = await updaterStatus.ages();
  return sendJson(reply, 200, {
    airgap: updaterStatus.airgapped,
    max_age_seconds: updaterStatus.maxAgeSeconds,
    updaters: ages.map((a) => ({
      name: a.name,
      fingerprint: a.fingerprint,
      records: a.records,
      data_time: new Date(a.dataTime).toISOString(),
      data_age_seconds: a.dataAgeSeconds,
      last_import: a.lastImport === null ? null : new Date(a.lastImport).toISOString(),
      last_import_kind: a.lastImportKind,
      stale: a.stale,
    })),
  });
};
