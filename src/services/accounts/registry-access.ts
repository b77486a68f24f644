// Who may do what on /v2 (Docker's token flow): the principal of a request is the account its bearer token
// names, with the token's grants as its scopes. No or broken token: 401 UNAUTHORIZED with a fresh challenge.
// A valid token without the right: 403 DENIED, also for repositories that do not exist (only a grant reveals
// existence; with a grant, a missing repository is the handler's 404 NAME_UNKNOWN).
import { RegistryError } from '../../oci/errors.js';
import type { AccessPolicy, RegistryRequest } from '../index.js';
import { ANONYMOUS, grants, type Credentials, type Principal } from '../principal.js';
import type { AccountsContext } from './context.js';
import { AccountError } from './errors.js';
import { findAccount } from './store.js';
import { TokenError, type RegistryTokenService } from './tokens.js';
import type { Authenticator } from './authenticate.js';
import type { PermissionService } from './permissions.js';
import { unauthorized } from './challenge.js';
import { acceptedAudiences, tokenNames } from './service-name.js';
import type { RepoService, RepositoryCreator } from '../repositories.js';
import { VerifiedTokenCache } from './verified-tokens.js';
import type { TokenStanding } from './token-standing.js';
import { performerOf } from '../audit/log.js';

/** A registry token that is not valid (the edge logs the reason). */
export class TokenRefused extends RegistryError {
  constructor(
    readonly reason: string,
    challenge: RegistryError,
  ) {
    super('UNAUTHORIZED', reason, undefined, 401, challenge.headers);
  }
}

/** The scope a challenge names for a request (what the client should ask the token endpoint for). */
export function challengeScope(r: RegistryRequest): string | undefined {
  if (r.catalog) return 'registry:catalog:*';
  if (!r.name || !r.action) return undefined;
  return `repository:${r.name}:${r.action === 'push' ? 'pull,push' : r.action}`;
}

export class RegistryAccess implements AccessPolicy {
  /** Token text -> its principal, for the token's lifetime (the signature check is cached the same way). */
  private readonly principals = new VerifiedTokenCache<{
    exp: number;
    principal: Principal;
    aud: string[];
    cred?: string;
    app?: string;
    sub: string;
  }>(30);

  constructor(
    private readonly ctx: AccountsContext,
    private readonly tokens: RegistryTokenService,
    private readonly authenticator: Authenticator,
    private readonly perms: PermissionService,
    private readonly repos: RepoService,
    private readonly standing: TokenStanding,
  ) {}

  async registryPrincipal(creds: Credentials, request: RegistryRequest): Promise<Principal> {
    if (this.ctx.auth.open || creds.scheme !== 'bearer') return ANONYMOUS;
    const audiences = acceptedAudiences(this.ctx.auth, request.origin);
    const known = this.principals.get(creds.token, this.ctx.now());
    if (known && !known.aud.some((a) => audiences.includes(a))) {
      this.ctx.observer?.authAttempt?.('bearer', false);
      const m = 'token was issued for another service';
      throw new TokenRefused(m, unauthorized(tokenNames(this.ctx.auth, request.origin), m, challengeScope(request), 'invalid_token'));
    }
    if (known) {
      await this.stillStands(known, request);
      this.ctx.observer?.authAttempt?.('bearer', true);
      return known.principal;
    }
    let claims: Awaited<ReturnType<typeof this.tokens.verify>>;
    try {
      claims = await this.tokens.verify(creds.token, audiences);
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      this.ctx.observer?.authAttempt?.('bearer', false);
      throw new TokenRefused(
        e.message,
        unauthorized(tokenNames(this.ctx.auth, request.origin), e.message, challengeScope(request), 'invalid_token'),
      );
    }
    await this.stillStands(claims, request);
    this.ctx.observer?.authAttempt?.('bearer', true);
    // The token names its account; one that is gone (or a token for no account) acts as anonymous with the token's grants.
    const account = claims.sub ? await findAccount(this.ctx.db, claims.sub) : undefined;
    const p = account && (await this.authenticator.principalOf(account.id, 'registry-token'));
    const principal: Principal = p ? { ...p, scopes: claims.access } : { kind: 'anonymous', scopes: claims.access };
    this.principals.set(creds.token, {
      exp: claims.exp,
      principal,
      aud: claims.aud ?? [],
      cred: claims.cred,
      app: claims.app,
      sub: claims.sub,
    });
    return principal;
  }

  /** A robot token regenerated, or the app token it came from revoked, on any replica since the registry token was issued refuses it (token-standing.ts). */
  private async stillStands(t: { sub: string; cred?: string; app?: string }, request: RegistryRequest): Promise<void> {
    const why = (await this.standing.credentialRefusal(t.sub, t.cred, request)) ?? (await this.standing.appTokenRefusal(t.app));
    if (!why) return;
    this.ctx.observer?.authAttempt?.('bearer', false);
    throw new TokenRefused(why, unauthorized(tokenNames(this.ctx.auth, request.origin), why, challengeScope(request), 'invalid_token'));
  }

  async authorize(p: Principal, request: RegistryRequest): Promise<RepositoryCreator | undefined> {
    if (this.ctx.auth.open) return undefined;
    if (p.scopes === undefined)
      throw unauthorized(tokenNames(this.ctx.auth, request.origin), 'authentication required', challengeScope(request));
    const { name, action } = request;
    if (!action || !name) return undefined;
    if (!grants(p.scopes, name, action)) {
      throw new RegistryError('DENIED', `requested access to "${name}" is denied: the token does not grant ${action}`, { name, action });
    }
    // Still allowed now? A permission revoked or a visibility changed on any replica since the token was issued.
    if (p.kind !== 'anonymous') {
      const why = await this.standing.roleRefusal(p.name, name, action, request);
      if (why) throw new RegistryError('DENIED', why, { name, action });
    }
    if (action === 'push' && request.createsRepository) return this.createOnPush(p, name, request.address);
    return undefined;
  }

  canRead(p: Principal, repository: string): boolean {
    return this.ctx.auth.open || grants(p.scopes, repository, 'pull');
  }

  async visibleRepositoryIds(p: Principal): Promise<number[] | undefined> {
    if (this.ctx.auth.open) return undefined;
    return this.perms.readableRepositoryIds(p);
  }

  /**
   * A push to a repository that does not exist may create it, owned by its namespace: checked now (a caller who may
   * not create there is DENIED before sending anything), created only when the push stores something.
   */
  private async createOnPush(p: Principal, name: string, address?: string): Promise<RepositoryCreator | undefined> {
    if (await this.perms.findRepo(name)) return undefined;
    const denied = (e: unknown) => (e instanceof AccountError ? new RegistryError('DENIED', e.message, { name }) : e);
    await this.repos.checkCreate(p, name).catch((e) => {
      throw denied(e);
    });
    return async (repository) => {
      try {
        await this.repos.create(p, repository, this.ctx.auth.privateOnPush ? 'private' : 'public');
        const i = repository.indexOf('/');
        this.ctx.audit?.record({
          kind: 'create_repo',
          repository,
          performer: performerOf(p),
          ip: address,
          metadata: { repo: repository.slice(i + 1), namespace: repository.slice(0, i), created_by_push: true },
        });
      } catch (e) {
        if (e instanceof AccountError && e.kind === 'conflict') return;
        throw denied(e);
      }
    };
  }
}
