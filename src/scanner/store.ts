// The advisory store: every updater's current data set, and the lookups the matcher makes.
//
// replaceUpdater(name, fingerprint, records) swaps an updater's whole data set atomically:
//
//   1. Outside any transaction, the records are validated, keyed (model.advisoryKey) and hashed
//      (model.contentHash) and spooled to a temp file, one JSON line each. Parsing, downloading and
//      malformed input all fail here, before the database is touched: the previous data stays
//      whole. The spool also keeps a slow parse from holding SQLite's single writer.
//   2. One transaction diffs the spool against the stored (key, content_hash) pairs: new keys are
//      inserted (added), changed hashes replaced (updated), keys no longer present deleted
//      (withdrawn), identical records left alone; then updater_state gets the new fingerprint.
//
// Nothing old is kept, so the tables hold exactly the current upstream data: importing the same
// data again writes nothing, and importing new data rewrites only what changed. That is the
// garbage collection (Clair's database only grows; this one cannot).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { sql } from 'kysely';
import type { DB, Dialect } from '../db/database.js';
import type { AdvisoryTable } from '../db/types.js';
import { advisoryKey, contentHash, lookupName, validateAdvisory, type Advisory, type AdvisoryEcosystem, type DistributionRef } from './model.js';

export interface ReplaceResult {
  updater: string;
  fingerprint: string;
  /** Records in the data set now. */
  records: number;
  added: number;
  updated: number;
  withdrawn: number;
  /** Records identical to the stored ones (nothing written). */
  identical: number;
  /** Records that repeated an earlier key in the same input (the last one wins). */
  duplicates: number;
}

export interface UpdaterStatus {
  name: string;
  fingerprint: string;
  records: number;
  /** When the data set was last replaced (ms since the epoch). */
  updatedAt: number;
  /** When upstream was last checked, changed or not. */
  checkedAt: number;
}

export interface CandidateQuery {
  ecosystem: AdvisoryEcosystem;
  /** null: language ecosystems. */
  distribution: DistributionRef | null;
  /** Package names as the matcher looks them up (lookupName is applied here). */
  packages: readonly string[];
}

export interface StoreOptions {
  /** Where the spool file goes (default: the OS temp directory). */
  tmpDir?: string;
  /**
   * PostgreSQL: `VACUUM (ANALYZE)` the advisory table after an update that changed rows (default
   * true), so the space of old row versions is reused at once instead of whenever autovacuum gets
   * to it, and the planner knows the table's size. SQLite reuses freed pages by itself.
   */
  vacuum?: boolean;
}

const INSERT_BATCH = 200;
const KEY_BATCH = 500;

/** (package, ranges) pairs per query of the matcher's second step. */
const GROUP_BATCH = 200;

type Row = AdvisoryTable;

function toRow(a: Advisory, key: string, hash: string, now: number): Row {
  return {
    updater: a.updater,
    key,
    content_hash: hash,
    vuln_id: a.id,
    ecosystem: a.ecosystem,
    dist_id: a.distribution?.id ?? '',
    dist_version: a.distribution?.versionId ?? '',
    package: lookupName(a.ecosystem, a.package),
    fixed_in: a.fixedIn,
    severity: a.severity,
    payload: JSON.stringify(a),
    ranges: rangesColumn(a),
    updated_at: now,
  };
}

/** What the matcher needs to decide "affected", stored apart from the payload: `[ranges, versions]`. */
function rangesColumn(a: Advisory): string {
  return JSON.stringify([a.ranges, a.versions ?? null]);
}

/** One distinct `[ranges, versions]` text among the advisories of one package name. */
export interface RangeGroup {
  /** lookupName(ecosystem, package) */
  package: string;
  /** `[ranges, versions | null]` as JSON text (advisory.ranges) */
  ranges: string;
}

/** An advisory of a requested group, with its full record. */
export interface GroupMember extends RangeGroup {
  updater: string;
  id: string;
  advisory: Advisory;
}

export class AdvisoryStore {
  constructor(
    private readonly db: DB,
    readonly dialect: Dialect,
    private readonly opts: StoreOptions = {},
  ) {}

  /**
   * Replaces the updater's data set with `records`, atomically. Throws (and changes nothing) when
   * the records cannot be read to the end.
   */
  async replaceUpdater(updater: string, fingerprint: string, records: AsyncIterable<Advisory>): Promise<ReplaceResult> {
    if (!updater) throw new Error('replaceUpdater: an updater name is required');
    const dir = await mkdtemp(path.join(this.opts.tmpDir ?? tmpdir(), 'berth-advisories-'));
    const spool = path.join(dir, 'records.ndjson');
    try {
      // Phase 1: read everything, outside the transaction.
      const last = new Map<string, { line: number; hash: string }>();
      let line = 0;
      let duplicates = 0;
      const out = createWriteStream(spool);
      const outError = new Promise<never>((_, reject) => out.on('error', reject));
      outError.catch(() => {});
      try {
        for await (const a of records) {
          a.updater = updater;
          validateAdvisory(a);
          const key = advisoryKey(a);
          const hash = contentHash(a);
          if (last.has(key)) duplicates++;
          last.set(key, { line, hash });
          line++;
          const ok = out.write(`${JSON.stringify({ key, hash, a })}\n`);
          if (!ok) await Promise.race([once(out, 'drain'), outError]);
        }
      } finally {
        out.end();
        await Promise.race([once(out, 'close'), outError]);
      }

      // Phase 2: one transaction.
      const now = Date.now();
      const result = await this.db.transaction().execute(async (trx) => {
        // Replicas updating the same updater at once take turns (SQLite has one writer anyway).
        if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`berth-updater:${updater}`}))`.execute(trx);
        const stored = new Map<string, string>();
        for (const r of await trx.selectFrom('advisory').select(['key', 'content_hash']).where('updater', '=', updater).execute()) {
          stored.set(r.key, r.content_hash);
        }
        let added = 0;
        let updated = 0;
        let identical = 0;
        const inserts: Row[] = [];
        const replaceKeys: string[] = [];
        const flush = async () => {
          if (replaceKeys.length) {
            await trx.deleteFrom('advisory').where('updater', '=', updater).where('key', 'in', replaceKeys).execute();
            replaceKeys.length = 0;
          }
          if (inserts.length) {
            await trx.insertInto('advisory').values(inserts).execute();
            inserts.length = 0;
          }
        };
        let n = 0;
        const rl = createInterface({ input: createReadStream(spool), crlfDelay: Infinity });
        for await (const text of rl) {
          const i = n++;
          if (!text) continue;
          const { key, hash, a } = JSON.parse(text) as { key: string; hash: string; a: Advisory };
          if (last.get(key)!.line !== i) continue; // a later record has the same key
          const old = stored.get(key);
          if (old === undefined) added++;
          else {
            stored.delete(key);
            if (old === hash) { identical++; continue; }
            updated++;
            replaceKeys.push(key);
          }
          inserts.push(toRow(a, key, hash, now));
          if (inserts.length >= INSERT_BATCH) await flush();
        }
        await flush();
        // Whatever is left was not in the new data: withdrawn.
        const gone = [...stored.keys()];
        for (let i = 0; i < gone.length; i += KEY_BATCH) {
          await trx.deleteFrom('advisory').where('updater', '=', updater).where('key', 'in', gone.slice(i, i + KEY_BATCH)).execute();
        }
        const total = last.size;
        await trx
          .insertInto('updater_state')
          .values({ name: updater, fingerprint, records: total, updated_at: now, checked_at: now })
          .onConflict((oc) => oc.column('name').doUpdateSet({ fingerprint, records: total, updated_at: now, checked_at: now }))
          .execute();
        return { updater, fingerprint, records: total, added, updated, withdrawn: gone.length, identical, duplicates };
      });
      if (this.dialect === 'postgres' && this.opts.vacuum !== false && result.added + result.updated + result.withdrawn > 0) {
        // Outside the transaction (VACUUM cannot run inside one); it takes no lock that blocks reads
        // or writes. ANALYZE keeps the planner on the lookup index after a large first import.
        await sql`vacuum (analyze) advisory`.execute(this.db);
      }
      return result;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Records that upstream was checked and found unchanged (the fingerprint may carry new validators). */
  async markChecked(updater: string, fingerprint: string): Promise<void> {
    await this.db.updateTable('updater_state').set({ fingerprint, checked_at: Date.now() }).where('name', '=', updater).execute();
  }

  async updaterStatus(): Promise<UpdaterStatus[]> {
    const rows = await this.db.selectFrom('updater_state').selectAll().orderBy('name').execute();
    return rows.map((r) => ({
      name: r.name,
      fingerprint: r.fingerprint,
      records: Number(r.records),
      updatedAt: Number(r.updated_at),
      checkedAt: Number(r.checked_at),
    }));
  }

  /** Every advisory for the given package names in one ecosystem and distribution release. */
  async candidates(q: CandidateQuery): Promise<Advisory[]> {
    const names = [...new Set(q.packages.map((p) => lookupName(q.ecosystem, p)))];
    const out: Advisory[] = [];
    for (let i = 0; i < names.length; i += KEY_BATCH) {
      const rows = await this.db
        .selectFrom('advisory')
        .select(['payload'])
        .where('ecosystem', '=', q.ecosystem)
        .where('dist_id', '=', q.distribution?.id ?? '')
        .where('dist_version', '=', q.distribution?.versionId ?? '')
        .where('package', 'in', names.slice(i, i + KEY_BATCH))
        .execute();
      for (const r of rows) out.push(JSON.parse(r.payload) as Advisory);
    }
    return out;
  }

  /**
   * The matcher's first step: the distinct ranges among the advisories of the given names. Whether
   * a version is affected depends on nothing else, and advisories of one package often share their
   * ranges (one fix for many CVEs), so this is far fewer rows than advisories, read from the
   * lookup index alone on SQLite.
   */
  async rangeGroups(q: CandidateQuery): Promise<RangeGroup[]> {
    const names = [...new Set(q.packages.map((p) => lookupName(q.ecosystem, p)))];
    let out: RangeGroup[] = [];
    for (let i = 0; i < names.length; i += KEY_BATCH) {
      const rows = await this.db
        .selectFrom('advisory')
        .select(['package', 'ranges'])
        .distinct()
        .where('ecosystem', '=', q.ecosystem)
        .where('dist_id', '=', q.distribution?.id ?? '')
        .where('dist_version', '=', q.distribution?.versionId ?? '')
        .where('package', 'in', names.slice(i, i + KEY_BATCH))
        .execute();
      out = out.length ? out.concat(rows) : rows;
    }
    return out;
  }

  /** The second step: the advisories of the groups that decide "affected" (or "unknown"), full records. */
  async inGroups(q: Omit<CandidateQuery, 'packages'>, groups: readonly RangeGroup[]): Promise<GroupMember[]> {
    const out: GroupMember[] = [];
    for (let i = 0; i < groups.length; i += GROUP_BATCH) {
      const batch = groups.slice(i, i + GROUP_BATCH);
      const rows = await this.db
        .selectFrom('advisory')
        .select(['updater', 'vuln_id', 'package', 'ranges', 'payload'])
        .where('ecosystem', '=', q.ecosystem)
        .where('dist_id', '=', q.distribution?.id ?? '')
        .where('dist_version', '=', q.distribution?.versionId ?? '')
        // The name list lets the lookup index narrow by package; the pairs pick the groups.
        .where('package', 'in', [...new Set(batch.map((g) => g.package))])
        .where(sql<boolean>`(package, ranges) in (values ${sql.join(batch.map((g) => sql`(${g.package}, ${g.ranges})`))})`)
        .execute();
      for (const r of rows) out.push({ updater: r.updater, id: r.vuln_id, package: r.package, ranges: r.ranges, advisory: JSON.parse(r.payload) as Advisory });
    }
    return out;
  }

  /** Every stored record of one vulnerability id (any updater, package or distribution). */
  async byId(id: string): Promise<Advisory[]> {
    const rows = await this.db.selectFrom('advisory').select(['payload']).where('vuln_id', '=', id).execute();
    return rows.map((r) => JSON.parse(r.payload) as Advisory);
  }

  /** All records of one updater, in key order (what a bundle export streams). */
  async *records(updater: string, batch = 1000): AsyncGenerator<Advisory> {
    let after = '';
    while (true) {
      const rows = await this.db
        .selectFrom('advisory')
        .select(['key', 'payload'])
        .where('updater', '=', updater)
        .where('key', '>', after)
        .orderBy('key')
        .limit(batch)
        .execute();
      for (const r of rows) yield JSON.parse(r.payload) as Advisory;
      if (rows.length < batch) return;
      after = rows[rows.length - 1].key;
    }
  }

  /** Row counts (for monitoring and the bounded-size test). */
  async counts(): Promise<{ advisories: number; updaters: number }> {
    const a = await this.db.selectFrom('advisory').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const u = await this.db.selectFrom('updater_state').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return { advisories: Number(a.n), updaters: Number(u.n) };
  }
}
