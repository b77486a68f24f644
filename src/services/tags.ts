// Tags of a repository for the REST API: paged listing, move to another manifest, delete.
import { requireDigest } from '../oci/digest.js';
import { isValidTag } from '../oci/names.js';
import { AccountError } from './accounts/errors.js';
import type { ServiceContext } from './context.js';

export interface TagView { name: string; manifest_digest: string; size: number; last_modified: string; start_ts: number; is_manifest_list: boolean }

export class TagService {
  constructor(private readonly ctx: ServiceContext) {}

  private async repoId(repository: string): Promise<number> {
    const r = await this.ctx.db.selectFrom('repository').select('id').where('name', '=', repository).executeTakeFirst();
    if (!r) throw new AccountError('not_found', `repository "${repository.slice(0, 255)}" does not exist`);
    return r.id;
  }

  async list(repository: string, limit: number, page: number): Promise<{ tags: TagView[]; page: number; has_additional: boolean }> {
    const id = await this.repoId(repository);
    const rows = await this.ctx.db.selectFrom('tag').innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
      .select(['tag.name', 'tag.updated_at', 'manifest.digest', 'manifest.size', 'manifest.media_type'])
      .where('tag.repository_id', '=', id).orderBy('tag.updated_at', 'desc').orderBy('tag.name')
      .limit(limit + 1).offset((page - 1) * limit).execute();
    const tags = rows.slice(0, limit).map((r) => ({
      name: r.name, manifest_digest: r.digest, size: r.size, last_modified: new Date(r.updated_at).toUTCString(),
      start_ts: Math.floor(r.updated_at / 1000), is_manifest_list: /index|manifest\.list/.test(r.media_type),
    }));
    return { tags, page, has_additional: rows.length > limit };
  }

  /** Points a tag (new or existing) at a manifest already in the repository. */
  async move(repository: string, tag: string, digest: string): Promise<void> {
    if (!isValidTag(tag)) throw new AccountError('invalid', `invalid tag "${tag.slice(0, 130)}": at most 128 characters of [A-Za-z0-9_.-], not starting with "." or "-"`);
    try {
      requireDigest(digest);
    } catch {
      throw new AccountError('invalid', `manifest_digest "${digest.slice(0, 100)}" is not a valid digest`);
    }
    const id = await this.repoId(repository);
    const m = await this.ctx.db.selectFrom('manifest').select('id').where('repository_id', '=', id).where('digest', '=', digest).executeTakeFirst();
    if (!m) throw new AccountError('not_found', `manifest ${digest} is not in repository "${repository}"`);
    const now = this.ctx.now();
    await this.ctx.db.insertInto('tag').values({ repository_id: id, name: tag, manifest_id: m.id, updated_at: now })
      .onConflict((oc) => oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: m.id, updated_at: now })).execute();
  }

  async delete(repository: string, tag: string): Promise<void> {
    const id = await this.repoId(repository);
    const r = await this.ctx.db.deleteFrom('tag').where('repository_id', '=', id).where('name', '=', tag).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new AccountError('not_found', `tag "${tag.slice(0, 130)}" is not in repository "${repository}"`);
  }
}
