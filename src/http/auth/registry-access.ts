// The /v2 auth hook: every registry route checks the bearer token and the action it needs.
// No or broken token: 401 UNAUTHORIZED with a fresh challenge. A valid token without the right: 403 DENIED
// (also for repositories that do not exist, so existence is not revealed to those who may not read).
import type { FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { AccessPolicy } from '../../services/index.js';
import type { AccountServices } from '../../services/accounts/index.js';
import { AccountError } from '../../services/accounts/errors.js';
import { ANONYMOUS } from '../../services/accounts/context.js';
import { findAccount } from '../../services/accounts/store.js';
import { TokenError, type AccessEntry } from '../../services/accounts/tokens.js';
import { parseAuthorization } from './credentials.js';
import { unauthorized } from './challenge.js';

declare module 'fastify' {
  interface FastifyRequest { registryAccess?: { sub: string; access: AccessEntry[] } }
}

type Action = 'pull' | 'push' | 'delete';

function neededAction(route: string, method: string): Action | undefined {
  if (route === 'base' || route === 'catalog') return undefined;
  if (method === 'DELETE' && (route === 'manifest' || route === 'blob')) return 'delete';
  if (route === 'upload-start' || route === 'upload' || (route === 'manifest' && method === 'PUT')) return 'push';
  return 'pull';
}

function grants(access: AccessEntry[], name: string, action: string): boolean {
  return access.some((a) => a.type === 'repository' && a.name === name && (a.actions.includes(action) || a.actions.includes('*')));
}

export class TokenAccessPolicy implements AccessPolicy {
  constructor(private readonly accounts: AccountServices) {}

  canRead(req: FastifyRequest, repository: string): boolean {
    if (this.accounts.ctx.auth.open) return true;
    return !!req.registryAccess && grants(req.registryAccess.access, repository, 'pull');
  }

  async authorize(req: FastifyRequest, route: string, method: string, name: string | undefined): Promise<void> {
    const { auth } = this.accounts.ctx;
    if (auth.open) return;
    const action = neededAction(route, method);
    const scope = route === 'catalog' ? 'registry:catalog:*' : name && action ? `repository:${name}:${action === 'pull' ? 'pull' : action === 'delete' ? 'delete' : 'pull,push'}` : undefined;
    const creds = parseAuthorization(req.headers.authorization);
    if (creds.scheme !== 'bearer') {
      if (creds.scheme === 'malformed') req.log.warn({ event: 'auth_refused', ip: req.ip, reason: creds.reason }, 'registry request refused');
      throw unauthorized(auth, 'authentication required', scope);
    }
    let claims;
    try {
      claims = await this.accounts.tokens.verify(creds.token);
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      this.accounts.ctx.observer?.authAttempt?.('bearer', false);
      req.log.warn({ event: 'token_refused', ip: req.ip, reason: e.message }, 'registry token refused');
      throw unauthorized(auth, e.message, scope, 'invalid_token');
    }
    this.accounts.ctx.observer?.authAttempt?.('bearer', true);
    req.registryAccess = { sub: claims.sub, access: claims.access };
    if (action && name && !grants(claims.access, name, action)) {
      throw new RegistryError('DENIED', `requested access to "${name}" is denied: the token does not grant ${action}`, { name, action });
    }
    // Still true now? (a permission revoked or a robot token regenerated on any replica since the token was issued)
    const refused = await this.accounts.standing.refusal(claims, name, action);
    if (refused?.kind === 'unauthorized') {
      req.log.warn({ event: 'token_refused', ip: req.ip, reason: refused.message }, 'registry token refused');
      throw unauthorized(auth, refused.message, scope, 'invalid_token');
    }
    if (refused) throw new RegistryError('DENIED', refused.message, { name, action });
    if (!action || !name) return;
    if (action === 'push' && (route === 'upload-start' || route === 'manifest')) await this.createOnPush(claims.sub, name);
  }

  /** A push to a repository that does not exist creates it, owned by its namespace (the token already proved the right). */
  private async createOnPush(sub: string, name: string): Promise<void> {
    if (await this.accounts.perms.findRepo(name)) return;
    const account = sub ? await findAccount(this.accounts.ctx.db, sub) : undefined;
    const principal = (account && await this.accounts.authenticator.principalOf(account.id)) ?? ANONYMOUS;
    try {
      await this.accounts.repos.create(principal, name, this.accounts.ctx.auth.privateOnPush ? 'private' : 'public');
    } catch (e) {
      if (e instanceof AccountError && e.kind === 'conflict') return;
      if (e instanceof AccountError) throw new RegistryError('DENIED', e.message, { name });
      throw e;
    }
  }

  async visibleRepositoryIds(req: FastifyRequest): Promise<number[] | undefined> {
    if (this.accounts.ctx.auth.open) return undefined;
    const sub = req.registryAccess?.sub;
    const account = sub ? await findAccount(this.accounts.ctx.db, sub) : undefined;
    const principal = (account && await this.accounts.authenticator.principalOf(account.id)) ?? ANONYMOUS;
    return this.accounts.perms.readableRepositoryIds(principal);
  }
}
