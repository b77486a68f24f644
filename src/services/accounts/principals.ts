// The principal of an /api/v1 request: Basic credentials (user, robot, "$app" + app token), a bearer app
// token, or a browser session cookie (which must send its CSRF token with every change); else anonymous.
import { ANONYMOUS, type Credentials, type Principal } from '../principal.js';
import type { AccountsContext } from './context.js';
import { AccountError } from './errors.js';
import type { Authenticator } from './authenticate.js';
import type { AppTokenService } from './apptokens.js';
import type { SessionService } from './sessions.js';

export const CSRF_HEADER = 'x-csrf-token';

export interface ApiCallerInput {
  credentials: Credentials;
  /** The session cookie's value, if the request has one. */
  sessionCookie?: string;
  /** The client's address (login throttling). */
  address: string;
  /** Whether the request changes something (a session must then prove its CSRF token). */
  changes: boolean;
  /** The CSRF header's value. */
  csrf?: string;
}

export class PrincipalResolver {
  constructor(
    private readonly ctx: AccountsContext,
    private readonly authenticator: Authenticator,
    private readonly appTokens: AppTokenService,
    private readonly sessions: SessionService,
  ) {}

  /** Throws AccountError: `unauthorized` for bad credentials, `throttled`, `invalid`, `forbidden` for a session change without its CSRF token. */
  async forApi(c: ApiCallerInput): Promise<{ principal: Principal; sessionCsrf?: string }> {
    const creds = c.credentials;
    if (creds.scheme === 'malformed') throw new AccountError('unauthorized', `invalid Authorization header: ${creds.reason}`);
    if (creds.scheme === 'basic') return { principal: await this.authenticator.login(creds.username, creds.password, c.address) };
    if (creds.scheme === 'bearer') {
      const p = await this.authenticator.appToken(creds.token);
      if (!p) throw new AccountError('unauthorized', 'the bearer token is not valid (use an app-specific token)');
      return { principal: p };
    }
    if (c.sessionCookie) {
      const s = c.sessionCookie.length <= 256 ? await this.sessions.lookup(c.sessionCookie) : undefined;
      const p = s && (await this.authenticator.principalOf(s.accountId, 'session'));
      this.ctx.observer?.authAttempt?.('cookie', !!p);
      if (s && p) {
        if (c.changes && !this.sessions.csrfMatches(s.csrf, c.csrf)) {
          throw new AccountError(
            'forbidden',
            `a signed-in browser session must send the ${CSRF_HEADER} header it got at sign-in with every change`,
          );
        }
        return { principal: p, sessionCsrf: s.csrf };
      }
    }
    return { principal: ANONYMOUS };
  }
}
