// GET /api/v1/status: whether FIPS mode is on (for auditors and the UI); provider details for superusers.
import type { FastifyInstance } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import { fipsStatus } from '../../crypto/index.js';
import { sendJson } from './principal.js';

export async function statusRoutes(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const feature = opts.accounts.ctx.config.raw.FEATURE_FIPS === true;
  app.get('/status', async (req, reply) => {
    const s = fipsStatus();
    const p = req.principal;
    const superuser = opts.accounts.ctx.auth.open || (p !== undefined && p.kind !== 'anonymous' && p.superuser);
    return sendJson(reply, 200, {
      // fips_mode: Berth enforces FIPS mode (FEATURE_FIPS) and the process runs with a FIPS provider (it refuses to start otherwise).
      fips_mode: feature && s.active,
      fips: {
        feature_fips: feature,
        process_fips: s.active,
        ...(superuser ? { openssl: s.openssl, openssl_conf: s.opensslConf ?? null, module: s.module ?? null } : {}),
      },
    });
  });
}
