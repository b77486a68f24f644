// Registry health for superusers (GET /api/v1/superuser/stats): account, repository, manifest, tag and blob
// counts, storage used, and how old the scanner's vulnerability data is.
import type { ServiceContext } from './context.js';

export interface RegistryStats {
  organizations: number;
  users: number;
  robots: number;
  repositories: number;
  manifests: number;
  tags: number;
  blobs: number;
  storage_bytes: number;
  /** null when this server has no scanner tables. */
  scanner: null | {
    updaters: { name: string; records: number; updated_at: number; checked_at: number }[];
    newest_update: number | null;
    data_age_seconds: number | null;
  };
}

export async function registryStats(ctx: ServiceContext): Promise<RegistryStats> {
  const { db } = ctx;
  const kinds = await db
    .selectFrom('account')
    .select(['kind', (eb) => eb.fn.countAll<number>().as('n')])
    .groupBy('kind')
    .execute();
  const count = (k: string) => Number(kinds.find((r) => r.kind === k)?.n ?? 0);
  const one = async (t: 'repository' | 'manifest' | 'tag') =>
    Number(
      (
        await db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow()
      ).n,
    );
  const blobs = await db
    .selectFrom('blob')
    .select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>('size').as('bytes')])
    .executeTakeFirstOrThrow();
  let updaters: NonNullable<RegistryStats['scanner']>['updaters'] | null = null;
  try {
    updaters = (await db.selectFrom('updater_state').select(['name', 'records', 'updated_at', 'checked_at']).orderBy('name').execute()).map(
      (u) => ({ name: u.name, records: Number(u.records), updated_at: Number(u.updated_at), checked_at: Number(u.checked_at) }),
    );
  } catch {
    updaters = null; // no scanner tables on this server
  }
  const newest = updaters?.length ? Math.max(...updaters.map((u) => u.updated_at)) : null;
  const now = ctx.now();
  return {
    organizations: count('org'),
    users: count('user'),
    robots: count('robot'),
    repositories: await one('repository'),
    manifests: await one('manifest'),
    tags: await one('tag'),
    blobs: Number(blobs.n),
    storage_bytes: Number(blobs.bytes ?? 0),
    scanner:
      updaters === null
        ? null
        : { updaters, newest_update: newest, data_age_seconds: newest === null ? null : Math.max(0, Math.round((now - newest) / 1000)) },
  };
}
