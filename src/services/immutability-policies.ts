// A repository's immutability policies (Quay's shape: { uuid, tagPattern, tagPatternMatches }): list, read,
// create, update, delete. The pattern is checked before anything is stored. A policy that starts covering a
// tag clears that tag's expiration, so an immutable tag never expires.
import { newId } from '../crypto/index.js';
import { AccountError } from './accounts/errors.js';
import type { ServiceContext } from './context.js';
import { apiRepositoryId } from './repositories.js';
import { BadTagPattern, compileTagPattern, ruleApplies, rulesOf, type ImmutabilityRule } from './tag-rules.js';
import { activeTag, openLifetime } from './tag-expiry.js';
import { CacheGroups } from '../cache/types.js';
import { invalidateAfter } from '../cache/invalidation.js';
import type { Kysely } from 'kysely';
import type { Database } from '../db/types.js';

export interface PolicyInput {
  tagPattern: string;
  tagPatternMatches?: boolean;
}

/** At most this many policies per repository. */
export const MAX_POLICIES = 50;

export class ImmutabilityPolicyService {
  constructor(private readonly ctx: ServiceContext) {
    invalidateAfter<ImmutabilityPolicyService>(this, ctx.cache, ['create', 'update', 'delete'], (a) => [CacheGroups.tags(a[0] as string)]);
  }

  async list(repository: string): Promise<ImmutabilityRule[]> {
    return rulesOf(this.ctx.db, await apiRepositoryId(this.ctx.db, repository));
  }

  async get(repository: string, uuid: string): Promise<ImmutabilityRule> {
    const found = (await this.list(repository)).find((r) => r.uuid === uuid);
    if (!found) throw notFound(repository, uuid);
    return found;
  }

  async create(repository: string, input: PolicyInput): Promise<{ uuid: string; expirationsCleared: number }> {
    const rule = checked(input);
    const id = await apiRepositoryId(this.ctx.db, repository);
    const uuid = newId();
    const cleared = await this.ctx.db.transaction().execute(async (tx) => {
      const existing = await rulesOf(tx, id);
      if (existing.length >= MAX_POLICIES)
        throw new AccountError('invalid', `repository "${repository}" already has ${MAX_POLICIES} policies`);
      if (existing.some((r) => r.tagPattern === rule.tagPattern))
        throw new AccountError(
          'invalid',
          `a policy with the tag pattern "${rule.tagPattern}" already exists in repository "${repository}"`,
        );
      await tx
        .insertInto('tag_immutability_rule')
        .values({
          uuid,
          repository_id: id,
          tag_pattern: rule.tagPattern,
          tag_pattern_matches: rule.tagPatternMatches ? 1 : 0,
          created_at: this.ctx.now(),
        })
        .execute();
      return clearExpirations(tx, id, { uuid, ...rule }, this.ctx.now());
    });
    return { uuid, expirationsCleared: cleared };
  }

  async update(repository: string, uuid: string, input: PolicyInput): Promise<{ expirationsCleared: number }> {
    const rule = checked(input);
    const id = await apiRepositoryId(this.ctx.db, repository);
    return this.ctx.db.transaction().execute(async (tx) => {
      const existing = await rulesOf(tx, id);
      if (!existing.some((r) => r.uuid === uuid)) throw notFound(repository, uuid);
      if (existing.some((r) => r.uuid !== uuid && r.tagPattern === rule.tagPattern))
        throw new AccountError(
          'invalid',
          `a policy with the tag pattern "${rule.tagPattern}" already exists in repository "${repository}"`,
        );
      await tx
        .updateTable('tag_immutability_rule')
        .set({ tag_pattern: rule.tagPattern, tag_pattern_matches: rule.tagPatternMatches ? 1 : 0 })
        .where('repository_id', '=', id)
        .where('uuid', '=', uuid)
        .execute();
      return { expirationsCleared: await clearExpirations(tx, id, { uuid, ...rule }, this.ctx.now()) };
    });
  }

  async delete(repository: string, uuid: string): Promise<void> {
    const id = await apiRepositoryId(this.ctx.db, repository);
    const r = await this.ctx.db
      .deleteFrom('tag_immutability_rule')
      .where('repository_id', '=', id)
      .where('uuid', '=', uuid)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(repository, uuid);
  }
}

function notFound(repository: string, uuid: string): AccountError {
  return new AccountError('not_found', `no immutability policy "${uuid.slice(0, 80)}" in repository "${repository}"`);
}

function checked(input: PolicyInput): { tagPattern: string; tagPatternMatches: boolean } {
  const tagPattern = input.tagPattern.trim();
  try {
    compileTagPattern(tagPattern);
  } catch (e) {
    if (e instanceof BadTagPattern) throw new AccountError('invalid', e.message);
    throw e;
  }
  return { tagPattern, tagPatternMatches: input.tagPatternMatches ?? true };
}

/** Clears the expiration of the alive tags `rule` covers; returns how many had one. */
async function clearExpirations(tx: Kysely<Database>, repositoryId: number, rule: ImmutabilityRule, now: number): Promise<number> {
  const expiring = await tx
    .selectFrom('tag')
    .select('name')
    .where('repository_id', '=', repositoryId)
    .where('expires_at', 'is not', null)
    .where(activeTag(now))
    .execute();
  const names = expiring.map((t) => t.name).filter((n) => ruleApplies(rule, n));
  if (!names.length) return 0;
  await tx.updateTable('tag').set({ expires_at: null }).where('repository_id', '=', repositoryId).where('name', 'in', names).execute();
  await tx
    .updateTable('tag_history')
    .set({ end_ts: null })
    .where('repository_id', '=', repositoryId)
    .where('name', 'in', names)
    .where(openLifetime(now))
    .execute();
  return names.length;
}
