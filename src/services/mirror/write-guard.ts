// Pushes and deletes over /v2 and tag changes over /api/v1 are refused for a repository that is not in the
// NORMAL state: a MIRROR repository is written only by its sync (which goes through the services, not /v2),
// a READ_ONLY one by nobody. The state is read through the data-model cache (group perm; a state change
// invalidates it on every replica).
import { RegistryError } from '../../oci/errors.js';
import type { DB } from '../../db/database.js';
import type { DataModelCache } from '../../cache/types.js';
import { CacheGroups } from '../../cache/types.js';
import type { RepositoryState } from '../../db/types-mirror.js';
import type { AccessPolicy, RegistryRequest } from '../index.js';
import type { Principal } from '../principal.js';
import type { RepositoryCreator } from '../repositories.js';
import { AccountError } from '../accounts/errors.js';

export class RepositoryStates {
  constructor(private readonly ctx: { db: DB; cache?: DataModelCache }) {}

  /** The state of a repository (NORMAL when it does not exist: a push may create it). */
  async of(name: string): Promise<RepositoryState> {
    const load = async () =>
      (await this.ctx.db.selectFrom('repository').select('state').where('name', '=', name).executeTakeFirst())?.state ?? 'NORMAL';
    if (!this.ctx.cache) return load();
    return (await this.ctx.cache.fetch(CacheGroups.perm, `state:${name}`, load)) ?? 'NORMAL';
  }

  /** Why a write to the repository is refused (undefined: it is not). */
  async refusal(name: string): Promise<string | undefined> {
    const state = await this.of(name);
    if (state === 'MIRROR')
      return `repository "${name}" is a mirror: its tags come only from its upstream by the mirror sync; pushes and tag changes are refused`;
    if (state === 'READ_ONLY') return `repository "${name}" is read-only: pushes and tag changes are refused`;
    return undefined;
  }

  /** For /api/v1 tag writes: throws a 403 with the reason. */
  async requireWritable(name: string): Promise<void> {
    const why = await this.refusal(name);
    if (why) throw new AccountError('forbidden', why);
  }
}

/** The /v2 access policy with the state check added: a push or delete to a MIRROR or READ_ONLY repository is DENIED. */
export function withRepositoryStateGuard(inner: AccessPolicy, states: RepositoryStates): AccessPolicy {
  return {
    registryPrincipal: (creds, request) => inner.registryPrincipal(creds, request),
    async authorize(p: Principal, request: RegistryRequest): Promise<RepositoryCreator | undefined> {
      const create = await inner.authorize(p, request);
      if (request.name && (request.action === 'push' || request.action === 'delete')) {
        const why = await states.refusal(request.name);
        if (why) throw new RegistryError('DENIED', why, { name: request.name });
      }
      return create;
    },
    canRead: (p, repository) => inner.canRead(p, repository),
    visibleRepositoryIds: (p) => inner.visibleRepositoryIds(p),
  };
}
