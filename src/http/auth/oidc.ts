// The browser side of OpenID Connect sign-in (Quay's paths): GET /oauth2/{id}/start sends the browser to the
// provider with a fresh state (also set as a SameSite=Lax cookie scoped to this provider's path);
// GET /oauth2/{id}/callback finishes it, starts a UI session and returns to the web UI. Refusals go back to the
// sign-in page with the reason in ?signin_error=.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import { AccountError } from '../../services/accounts/errors.js';
import { readCookie, SESSION_COOKIE } from '../api/principal.js';
import { auditLater } from '../audit-hook.js';

const STATE_COOKIE = 'berth_oidc_state';

export async function oidcRoutes(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const { accounts } = opts;
  const { auth } = accounts.ctx;
  const secure = auth.baseUrl.startsWith('https:') ? '; Secure' : '';
  const callbackUrl = (id: string) => `${auth.baseUrl}/oauth2/${id}/callback`;
  // The state cookie stays on a refusal: a forged callback must not break the sign-in the browser has in flight.
  const back = (reply: FastifyReply, message: string) =>
    reply
      .code(302)
      .header('Cache-Control', 'no-store')
      .header('Location', `/?signin_error=${encodeURIComponent(message.slice(0, 300))}`)
      .send();

  app.get('/oauth2/:id/start', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const p = accounts.identity.oidc.get(id);
    if (!p)
      return reply
        .code(404)
        .header('Content-Type', 'application/json')
        .send(JSON.stringify({ error: `no OpenID provider "${id.slice(0, 64)}" is configured` }));
    try {
      const { url, state } = await p.start(callbackUrl(id));
      return reply
        .code(302)
        .header('Cache-Control', 'no-store')
        .header('Set-Cookie', `${STATE_COOKIE}=${state}; Path=/oauth2/${id}/; HttpOnly; SameSite=Lax; Max-Age=600${secure}`)
        .header('Location', url)
        .send();
    } catch (e) {
      if (!(e instanceof AccountError)) throw e;
      req.log.warn({ event: 'oidc_unavailable', provider: id, reason: e.message }, 'OpenID sign-in could not start');
      return back(reply, e.message);
    }
  });

  app.get('/oauth2/:id/callback', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const p = accounts.identity.oidc.get(id);
    if (!p)
      return reply
        .code(404)
        .header('Content-Type', 'application/json')
        .send(JSON.stringify({ error: `no OpenID provider "${id.slice(0, 64)}" is configured` }));
    const raw = req.raw.url ?? '';
    const url = new URL(callbackUrl(id));
    url.search = raw.includes('?') ? raw.slice(raw.indexOf('?')) : '';
    try {
      const principal = await accounts.authenticator.external(p.id, () => p.finish(url, readCookie(req, STATE_COOKIE)));
      if (principal.kind !== 'user') throw new AccountError('forbidden', 'only users sign in to the UI');
      req.principal = principal; // the audit log's performer (login_success)
      const s = await accounts.sessions.create(principal.id);
      req.log.info({ event: 'oidc_signin', provider: id, account: principal.name, ip: req.ip }, 'signed in with OpenID Connect');
      auditLater(req, {
        kind: 'login_success',
        namespace: principal.name,
        performer: { kind: 'user', name: principal.name },
        metadata: { type: 'oauth', service: id },
      });
      return reply
        .code(302)
        .header('Cache-Control', 'no-store')
        .header('Set-Cookie', [
          `${STATE_COOKIE}=; Path=/oauth2/${id}/; HttpOnly; SameSite=Lax; Max-Age=0${secure}`,
          `${SESSION_COOKIE}=${s.cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${auth.sessionSeconds}${secure}`,
        ])
        .header('Location', '/')
        .send();
    } catch (e) {
      if (!(e instanceof AccountError)) throw e;
      req.log.warn({ event: 'login_failed', provider: id, ip: req.ip, reason: e.message }, 'OpenID sign-in refused');
      auditLater(req, { kind: 'login_failure', metadata: { type: 'oauth', service: id, message: e.message.slice(0, 200) } });
      return back(reply, e.message);
    }
  });
}
