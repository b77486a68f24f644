import { requireSignedIn, sendJson } from "./principal.js";
const updaters = async ({ reply, principal, deps: { updaterStatus } }) => {
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
      stale: a.stale
    }))
  });
};
export {
  updaters
};
//# sourceMappingURL=scanner-status.js.map
