// GET /api/v1/scanner/updaters: per updater, how old the vulnerability data is and when it was
// last imported from an air-gap bundle. Any signed-in caller (user or robot) may read it: it says
// nothing about repositories, and every user needs to know whether scan results are current.
import type { FastifyInstance } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import { updaterAges } from '../../scanner/bundle/status.js';
import { dataMaxAgeSeconds, isAirgapped } from '../../scanner/bundle/airgap.js';
import { requireSignedIn, sendJson } from './principal.js';

export async function scannerStatusRoutes(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const ctx = opts.accounts.ctx;
  app.get('/scanner/updaters', async (req, reply) => {
    requireSignedIn(req);
    const maxAge = dataMaxAgeSeconds(ctx.config);
    const ages = await updaterAges(ctx.db, ctx.dialect, { now: ctx.now(), maxAgeSeconds: maxAge });
    return sendJson(reply, 200, {
      airgap: isAirgapped(ctx.config),
      max_age_seconds: maxAge,
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
  });
}
