// OpenID Connect sign-in (openid-client): Quay's <NAME>_LOGIN_CONFIG. Authorization code flow with PKCE (S256),
// a random state bound to the browser by a cookie and a nonce bound to the ID token; the state, nonce and PKCE
// verifier of a sign-in in flight live in the database (oidc_login, by the state's digest) for ten minutes and are
// used once, so any replica can finish a sign-in and a replayed callback is refused.
import type * as client from 'openid-client';

// openid-client is loaded by the first OpenID sign-in, not by every server start.
let oidcModule: Promise<typeof client> | undefined;
const openid = () => (oidcModule ??= import('openid-client'));
import type { OidcSettings } from '../../config/schema-identity.js';
import { isLoopback } from '../../config/schema-identity.js';
import { randomToken, safeEqual, secretDigest } from '../../crypto/index.js';
import type { AccountsContext } from '../accounts/context.js';
import { AccountError, unavailable } from '../accounts/errors.js';
import type { ExternalUser, IdentityProvider } from './provider.js';

export const OIDC_LOGIN_TTL_MS = 10 * 60_000;

export class OidcProvider implements IdentityProvider {
  readonly id: string;
  private config?: Promise<client.Configuration>;

  constructor(
    private readonly ctx: AccountsContext,
    readonly s: OidcSettings,
  ) {
    this.id = `oidc:${s.id}`;
  }

  get serviceName(): string {
    return this.s.serviceName;
  }

  /** The provider's metadata (discovery), fetched once; a failure is retried at the next sign-in. */
  private discover(): Promise<client.Configuration> {
    this.config ??= (async () => {
      // Quay's examples end OIDC_SERVER with "/"; the issuer identifier (and the discovery URL built on it) has none.
      const server = new URL(this.s.OIDC_SERVER.replace(/(?<=[^/])\/+$/, '').replace(/^(https?:\/\/[^/]+)$/, '$1/'));
      const insecure = server.protocol === 'http:' && (this.s.DEBUGGING || isLoopback(server.hostname));
      try {
        const client = await openid();
        return await client.discovery(
          server,
          this.s.CLIENT_ID,
          { id_token_signed_response_alg: this.s.ID_TOKEN_SIGNING_ALGORITHM },
          client.ClientSecretBasic(this.s.CLIENT_SECRET),
          { timeout: 10, ...(insecure ? { execute: [client.allowInsecureRequests] } : {}) },
        );
      } catch (e) {
        this.config = undefined;
        throw unavailable(`the OpenID provider ${this.s.OIDC_SERVER} cannot be used: ${(e as Error).message}`);
      }
    })();
    return this.config;
  }

  /** Starts a sign-in: the provider's authorization URL and the state the browser must bring back (in a cookie). */
  async start(redirectUri: string): Promise<{ url: string; state: string }> {
    const client = await openid();
    const config = await this.discover();
    const state = randomToken(32);
    const nonce = randomToken(32);
    const verifier = randomToken(48);
    const now = this.ctx.now();
    await this.ctx.db.deleteFrom('oidc_login').where('expires_at', '<', now).execute();
    await this.ctx.db
      .insertInto('oidc_login')
      .values({
        state_digest: secretDigest(state),
        provider: this.s.id,
        nonce,
        code_verifier: verifier,
        created_at: now,
        expires_at: now + OIDC_LOGIN_TTL_MS,
      })
      .execute();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: this.s.LOGIN_SCOPES.join(' '),
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, state };
  }

  /**
   * Finishes a sign-in at the callback: the state must match the browser's cookie and a sign-in in flight (used up
   * here), then the code is exchanged with the PKCE verifier and the ID token checked (issuer, audience, signature
   * algorithm, expiry, nonce). Throws AccountError `unauthorized` with the reason.
   */
  async finish(callbackUrl: URL, cookieState: string | undefined): Promise<ExternalUser> {
    const state = callbackUrl.searchParams.get('state') ?? '';
    const providerError = callbackUrl.searchParams.get('error');
    if (providerError) {
      const d = callbackUrl.searchParams.get('error_description');
      throw new AccountError(
        'unauthorized',
        `the OpenID provider refused the sign-in: ${providerError.slice(0, 100)}${d ? ` (${d.slice(0, 200)})` : ''}`,
      );
    }
    if (!state || !cookieState || !safeEqual(state, cookieState)) {
      throw new AccountError(
        'unauthorized',
        'the sign-in state does not match this browser (a forged or stale link); start the sign-in again',
      );
    }
    const row = await this.ctx.db
      .deleteFrom('oidc_login')
      .where('state_digest', '=', secretDigest(state))
      .where('provider', '=', this.s.id)
      .returning(['nonce', 'code_verifier', 'expires_at'])
      .executeTakeFirst();
    if (!row) throw new AccountError('unauthorized', 'this sign-in was already used or is unknown; start the sign-in again');
    if (Number(row.expires_at) < this.ctx.now())
      throw new AccountError('unauthorized', 'this sign-in took longer than 10 minutes; start the sign-in again');
    const config = await this.discover();
    const client = await openid();
    let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: row.code_verifier,
        expectedState: state,
        expectedNonce: row.nonce,
        idTokenExpected: true,
      });
    } catch (e) {
      const err = e as Error & { error?: string; error_description?: string; code?: string };
      const why = err.error ? `${err.error}${err.error_description ? `: ${err.error_description}` : ''}` : err.message;
      if (err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' || /fetch failed|ECONNREFUSED|timed? ?out/i.test(err.message)) {
        throw unavailable(`the OpenID provider ${this.s.OIDC_SERVER} cannot be used: ${why}`);
      }
      throw new AccountError('unauthorized', `the OpenID provider did not accept the sign-in: ${why.slice(0, 300)}`);
    }
    const claims: Record<string, unknown> = { ...tokens.claims() };
    const need = [
      this.s.PREFERRED_GROUP_CLAIM_NAME,
      this.s.PREFERRED_USERNAME_CLAIM_NAME ?? 'preferred_username',
      this.s.VERIFIED_EMAIL_CLAIM_NAME ?? 'email',
    ];
    if (need.some((c) => c && claims[c] === undefined) && tokens.access_token && config.serverMetadata().userinfo_endpoint) {
      try {
        Object.assign(claims, { ...(await client.fetchUserInfo(config, tokens.access_token, String(claims.sub))), ...claims });
      } catch (e) {
        throw unavailable(`the OpenID provider's userinfo endpoint failed: ${(e as Error).message}`);
      }
    }
    const sub = String(claims.sub);
    const username = claims[this.s.PREFERRED_USERNAME_CLAIM_NAME ?? 'preferred_username'];
    const email = claims[this.s.VERIFIED_EMAIL_CLAIM_NAME ?? 'email'];
    const emailOk = typeof email === 'string' && (this.s.VERIFIED_EMAIL_CLAIM_NAME !== undefined || claims.email_verified !== false);
    const g = this.s.PREFERRED_GROUP_CLAIM_NAME ? claims[this.s.PREFERRED_GROUP_CLAIM_NAME] : undefined;
    const groups = Array.isArray(g) ? g.filter((x): x is string => typeof x === 'string') : typeof g === 'string' ? [g] : [];
    return {
      subject: `${config.serverMetadata().issuer}#${sub}`,
      username: typeof username === 'string' && username ? username : typeof email === 'string' ? email : sub,
      email: emailOk ? (email as string) : null,
      groups,
    };
  }
}
