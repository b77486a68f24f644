// Schema migrations, one function each, in order. Both dialects run the same list.
import { type Kysely, Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './database.js';
import { accountsMigration } from './migrations-accounts.js';
import { scannerMigration } from './migrations-scanner.js';
import { scannerIndexMigration } from './migrations-scanner-index.js';
import { airgapMigration } from './migrations-airgap.js';
import { loginThrottleMigration } from './migrations-login-throttle.js';
import { replicasMigration } from './migrations-replicas.js';
import { tagHistoryMigration } from './migrations-tag-history.js';
import { scannerCleanupMigration } from './migrations-scanner-cleanup.js';
import { identityMigration } from './migrations-identity.js';
import { s3UploadsMigration } from './migrations-s3.js';
import { pullStatsMigration } from './migrations-pull-stats.js';
import { auditLogMigration, notificationsMigration } from './migrations-audit.js';
import { scaleIndexesMigration } from './migrations-scale.js';
import { quotaMigration } from './migrations-quota.js';
import { tagPolicyMigration } from './migrations-tag-policy.js';
import { repoMirrorMigration } from './migrations-mirror.js';
import { proxyCacheMigration, proxyCacheProxyMigration } from './migrations-proxy-cache.js';
import { keyFingerprintMigration } from './migrations-key-fingerprint.js';
import { gcCandidatesMigration } from './migrations-gc-candidates.js';
import { tagHistoryOpenUniqueMigration } from './migrations-tag-history-open.js';
import { auditPageIndexesMigration } from './migrations-audit-pages.js';

function migrations(dialect: Dialect): Record<string, Migration> {
  const id = (t: string) =>
    dialect === 'postgres' ? sql.raw(`${t} bigserial primary key`) : sql.raw(`${t} integer primary key autoincrement`);
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    '0001_registry_core': {
      async up(db: Kysely<unknown>) {
        await sql`create table repository (${id('id')}, name text not null unique, created_at bigint not null)`.execute(db);
        await sql`create table blob (digest text primary key, size bigint not null, created_at bigint not null, last_used_at bigint not null)`.execute(
          db,
        );
        await sql`create table repository_blob (repository_id bigint not null references repository(id) on delete cascade,
          digest text not null references blob(digest), created_at bigint not null, primary key (repository_id, digest))`.execute(db);
        await sql`create index repository_blob_digest on repository_blob (digest)`.execute(db);
        await sql`create table manifest (${id('id')}, repository_id bigint not null references repository(id) on delete cascade,
          digest text not null, media_type text not null, artifact_type text, size bigint not null, content ${sql.raw(bytes)} not null,
          subject_digest text, annotations text, created_at bigint not null, unique (repository_id, digest))`.execute(db);
        await sql`create index manifest_subject on manifest (repository_id, subject_digest)`.execute(db);
        await sql`create table manifest_ref (manifest_id bigint not null references manifest(id) on delete cascade,
          digest text not null, kind text not null, primary key (manifest_id, kind, digest))`.execute(db);
        await sql`create index manifest_ref_digest on manifest_ref (digest)`.execute(db);
        await sql`create table tag (repository_id bigint not null references repository(id) on delete cascade,
          name text not null, manifest_id bigint not null references manifest(id) on delete cascade, updated_at bigint not null,
          primary key (repository_id, name))`.execute(db);
        await sql`create index tag_manifest on tag (manifest_id)`.execute(db);
        // An upload names its repository rather than pointing at a row: the repository is created only
        // when the first blob or manifest is committed, so an abandoned or refused push leaves nothing behind.
        await sql`create table upload (id text primary key, repository text not null,
          size bigint not null, created_at bigint not null, updated_at bigint not null)`.execute(db);
      },
    },
    '0002_accounts': { up: (db: Kysely<unknown>) => accountsMigration(db, id) },
    '0003_scanner': scannerMigration(dialect),
    '0004_scanner_index': scannerIndexMigration(dialect),
    '0005_airgap': airgapMigration(),
    '0006_login_throttle': loginThrottleMigration(),
    '0007_tag_history': tagHistoryMigration(dialect),
    '0008_scanner_cleanup': scannerCleanupMigration(dialect),
    '0012_identity': identityMigration(id),
    '0010_s3_uploads': s3UploadsMigration(),
    '0011_pull_stats': pullStatsMigration(),
    '0013_audit_log': auditLogMigration(dialect),
    '0014_notifications': notificationsMigration(dialect),
    '0019_scale_indexes': scaleIndexesMigration(dialect),
    '0017_quota': quotaMigration(dialect),
    '0018_tag_policy': tagPolicyMigration(dialect),
    '0016_repo_mirror': repoMirrorMigration(),
    '0020_gc_upload_guard': replicasMigration(),
    '0015_proxy_cache': proxyCacheMigration(),
    '0022_key_fingerprint': keyFingerprintMigration(),
    '0021_gc_candidates': gcCandidatesMigration(dialect),
    '0023_tag_history_open_unique': tagHistoryOpenUniqueMigration(),
    '0024_audit_page_indexes': auditPageIndexesMigration(dialect),
    '0026_proxy_cache_proxy': proxyCacheProxyMigration(),
  };
}

export async function migrate(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const all = migrations(dialect);
  const provider: MigrationProvider = { getMigrations: async () => all };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'berth_migration',
    migrationLockTableName: 'berth_migration_lock',
    // Numbers are reserved per piece of work, so a database may have run a later one first (0008 before 0006).
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}
