// GET /api/v1/status: whether FIPS mode is on (for auditors and the UI); provider details for superusers.
import { fipsStatus } from '../../crypto/index.js';
import { sendJson } from './principal.js';
import type { ApiHandler } from './types.js';

export const getStatus: ApiHandler = async ({ reply, principal: p, deps: { accounts } }) => {
  const feature = accounts.ctx.config.raw.FEATURE_FIPS === true;
  const s = fipsStatus();
  const superuser = accounts.ctx.auth.open || (p.kind !== 'anonymous' && p.superuser);
  return sendJson(reply, 200, {
    // fips_mode: Berth enforces FIPS mode (FEATURE_FIPS) and the process runs with a FIPS provider (it refuses to start otherwise).
    fips_mode: feature && s.active,
    fips: {
      feature_fips: feature,
      process_fips: s.active,
      ...(superuser ? { openssl: s.openssl, openssl_conf: s.opensslConf ?? null, module: s.module ?? null } : {}),
    },
  });
};
