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
//      Large data sets are diffed in partitions (by a hash of the key, ~20,000 records each, spread
//      over temp files), so memory stays flat however many records an updater has.
//
// Nothing old is kept, so the tables hold exactly the current upstream data: importing the same
// data again writes nothing, and importing new data rewrites only what changed. That is the
// garbage collection (Clair's database only grows; this one cannot).
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { sql } from 'kysely';
import type { DB, Dialect } from '../db/database.js';
import type { AdvisoryTable } from '../db/types.js';
import {
  advisoryKey,
  contentHash,
  lookupName,
  validateAdvisory,
  type Advisory,
  type AdvisoryEcosystem,
  type DistributionRef,
} from './model.js';

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
/** replaceUpdater diffs at most about this many records at a time (memory: ~200 bytes each). */
const PARTITION_RECORDS = 20_000;
const STORED_BATCH = 2000;

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

// ---- replaceUpdater's spool and partitions ------------------------------------------------------
// A spool line: `seq \t JSON(key) \t hash \t JSON(advisory)`; JSON never holds a raw tab, so the
// first three tabs split it, and the diff parses the advisory only when it writes it.

function spoolLine(seq: number, key: string, hash: string, payload: string): string {
  return `${seq}\t${JSON.stringify(key)}\t${hash}\t${payload}\n`;
}

function parseSpoolLine(text: string, withPayload: boolean): { seq: number; key: string; hash: string; payload?: string } {
  const a = text.indexOf('\t');
  const b = text.indexOf('\t', a + 1);
  const c = text.indexOf('\t', b + 1);
  return {
    seq: Number(text.slice(0, a)),
    key: JSON.parse(text.slice(a + 1, b)) as string,
    hash: text.slice(b + 1, c),
    ...(withPayload ? { payload: text.slice(c + 1) } : {}),
  };
}

/** FNV-1a of the key, modulo the number of partitions. */
function partitionOf(key: string, parts: number): number {
  if (parts === 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % parts;
}

/** Spreads a spool over `parts` files by key. */
async function partition(file: string, dir: string, prefix: string, parts: number): Promise<string[]> {
  const files = Array.from({ length: parts }, (_, i) => path.join(dir, `${prefix}-${i}.tsv`));
  const writers = files.map((f) => new LineWriter(f));
  try {
    for await (const text of readLines(file)) await writers[partitionOf(parseSpoolLine(text, false).key, parts)].write(`${text}\n`);
  } finally {
    for (const w of writers) await w.close();
  }
  return files;
}

async function* readLines(file: string): AsyncGenerator<string> {
  const rl = createInterface({ input: createReadStream(file, { highWaterMark: 1 << 16 }), crlfDelay: Infinity });
  for await (const text of rl) if (text) yield text;
}

/** A file written line by line, waiting for the disk when its buffer is full. */
class LineWriter {
  private readonly out: WriteStream;
  private failed: Error | undefined;
  constructor(file: string) {
    this.out = createWriteStream(file, { highWaterMark: 1 << 16 });
    this.out.on('error', (e) => {
      this.failed = e;
    });
  }

  async write(text: string): Promise<void> {
    if (this.failed) throw this.failed;
    if (!this.out.write(text)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (e: Error) => {
          this.out.off('drain', onDrain);
          reject(e);
        };
        const onDrain = () => {
          this.out.off('error', onError);
          resolve();
        };
        this.out.once('drain', onDrain);
        this.out.once('error', onError);
      });
    }
  }

  async close(): Promise<void> {
    if (this.out.closed) return;
    const done = once(this.out, 'close');
    this.out.end();
    await done;
    if (this.failed) throw this.failed;
  }
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
    const spool = path.join(dir, 'records.tsv');
    try {
      // Phase 1: read everything, outside the transaction. Nothing per record stays in memory.
      let lines = 0;
      const out = new LineWriter(spool);
      try {
        for await (const a of records) {
          a.updater = updater;
          validateAdvisory(a);
          await out.write(spoolLine(lines++, advisoryKey(a), contentHash(a), JSON.stringify(a)));
        }
      } finally {
        await out.close();
      }

      // The diff against the stored (key, content_hash) pairs runs per partition (by a hash of the
      // key), so memory holds at most one partition's keys whatever the size of the data set: the
      // incoming records (here, still outside the transaction) and the stored pairs (inside it) are
      // spread over partition files, and each partition is diffed on its own. The stored count only
      // sizes the partitions; a concurrent change to it makes them larger or smaller, never wrong.
      const storedCount = (await this.updaterStatus()).find((u) => u.name === updater)?.records ?? 0;
      const parts = Math.max(1, Math.ceil(Math.max(lines, storedCount) / PARTITION_RECORDS));
      const incoming = parts === 1 ? [spool] : await partition(spool, dir, 'in', parts);

      // Phase 2: one transaction.
      const now = Date.now();
      const result = await this.db.transaction().execute(async (trx) => {
        // Replicas updating the same updater at once take turns (SQLite has one writer anyway).
        if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${`berth-updater:${updater}`}))`.execute(trx);
        // The stored pairs, read in key order in batches, into partition files.
        const storedFiles = Array.from({ length: parts }, (_, i) => path.join(dir, `stored-${i}.tsv`));
        const writers = storedFiles.map((f) => new LineWriter(f));
        try {
          let after: string | undefined;
          for (;;) {
            let q = trx.selectFrom('advisory').select(['key', 'content_hash']).where('updater', '=', updater);
            if (after !== undefined) q = q.where('key', '>', after);
            const rows = await q.orderBy('key').limit(STORED_BATCH).execute();
            for (const r of rows) await writers[partitionOf(r.key, parts)].write(`${JSON.stringify(r.key)}\t${r.content_hash}\n`);
            if (rows.length < STORED_BATCH) break;
            after = rows[rows.length - 1].key;
          }
        } finally {
          for (const w of writers) await w.close();
        }

        let added = 0;
        let updated = 0;
        let identical = 0;
        let duplicates = 0;
        let withdrawn = 0;
        let total = 0;
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
        for (let p = 0; p < parts; p++) {
          const stored = new Map<string, string>();
          for await (const text of readLines(storedFiles[p])) {
            const tab = text.indexOf('\t');
            stored.set(JSON.parse(text.slice(0, tab)) as string, text.slice(tab + 1));
          }
          // A key repeated in the input: the last record wins.
          const last = new Map<string, number>();
          for await (const text of readLines(incoming[p])) {
            const l = parseSpoolLine(text, false);
            if (last.has(l.key)) duplicates++;
            last.set(l.key, l.seq);
          }
          total += last.size;
          for await (const text of readLines(incoming[p])) {
            const l = parseSpoolLine(text, false);
            if (last.get(l.key) !== l.seq) continue;
            const old = stored.get(l.key);
            if (old === undefined) added++;
            else {
              stored.delete(l.key);
              if (old === l.hash) {
                identical++;
                continue;
              }
              updated++;
              replaceKeys.push(l.key);
            }
            inserts.push(toRow(JSON.parse(parseSpoolLine(text, true).payload!) as Advisory, l.key, l.hash, now));
            if (inserts.length >= INSERT_BATCH) await flush();
          }
          await flush();
          // Whatever is left was not in the new data: withdrawn.
          const gone = [...stored.keys()];
          withdrawn += gone.length;
          for (let i = 0; i < gone.length; i += KEY_BATCH) {
            await trx
              .deleteFrom('advisory')
              .where('updater', '=', updater)
              .where('key', 'in', gone.slice(i, i + KEY_BATCH))
              .execute();
          }
        }
        await trx
          .insertInto('updater_state')
          .values({ name: updater, fingerprint, records: total, updated_at: now, checked_at: now })
          .onConflict((oc) => oc.column('name').doUpdateSet({ fingerprint, records: total, updated_at: now, checked_at: now }))
          .execute();
        return { updater, fingerprint, records: total, added, updated, withdrawn, identical, duplicates };
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

  /** A version of the advisory data: changes whenever an updater replaces its data set (the match cache's key). */
  async dataVersion(): Promise<string> {
    const rows = await this.db.selectFrom('updater_state').select(['name', 'updated_at']).orderBy('name').execute();
    return rows.map((r) => `${r.name}@${r.updated_at}`).join(',');
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
      for (const r of rows)
        out.push({ updater: r.updater, id: r.vuln_id, package: r.package, ranges: r.ranges, advisory: JSON.parse(r.payload) as Advisory });
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
    const a = await this.db
      .selectFrom('advisory')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    const u = await this.db
      .selectFrom('updater_state')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return { advisories: Number(a.n), updaters: Number(u.n) };
  }
}
