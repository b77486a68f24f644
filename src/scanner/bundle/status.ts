// Per-updater data age: how old each updater's vulnerability data is and when it was last imported.
//
// The age of data that came in a bundle is measured from when the exporting side fetched it
// (the bundle header's `fetched`), not from the import: a month-old bundle imported today is a
// month old. Data fetched online by the updater itself is as old as its last check upstream
// (`updater_state.checked_at`). Whichever happened last wins.
import type { Kysely } from 'kysely';
import type { DB, Dialect } from '../../db/database.js';
import { AdvisoryStore } from '../store.js';
import type { ScannerContext } from '../context.js';
import { dataMaxAgeSeconds, isAirgapped } from './airgap.js';

export interface UpdaterImportTable {
  name: string;
  data_time: number;
  imported_at: number;
  bundle_created: number;
  bundle_sha256: string;
  kind: string;
}

type AirgapDb = Kysely<{ updater_import: UpdaterImportTable }>;
const adb = (db: DB) => db as unknown as AirgapDb;

export interface ImportRecord {
  name: string;
  dataTime: number;
  importedAt: number;
  bundleCreated: number;
  bundleSha256: string;
  kind: 'full' | 'delta' | 'clair' | 'skipped';
}

export async function recordImport(db: DB | AirgapDb, r: ImportRecord): Promise<void> {
  const row = {
    name: r.name,
    data_time: r.dataTime,
    imported_at: r.importedAt,
    bundle_created: r.bundleCreated,
    bundle_sha256: r.bundleSha256,
    kind: r.kind,
  };
  await adb(db as DB)
    .insertInto('updater_import')
    .values(row)
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({
        data_time: r.dataTime,
        imported_at: r.importedAt,
        bundle_created: r.bundleCreated,
        bundle_sha256: r.bundleSha256,
        kind: r.kind,
      }),
    )
    .execute();
}

export interface UpdaterAge {
  name: string;
  fingerprint: string;
  records: number;
  /** When the data was fetched upstream (ms). */
  dataTime: number;
  dataAgeSeconds: number;
  /** Last bundle import (ms), null when never imported. */
  lastImport: number | null;
  lastImportKind: string | null;
  stale: boolean;
}

/** Every updater with data, with its age. `maxAgeSeconds` decides `stale`. */
export async function updaterAges(db: DB, dialect: Dialect, opts: { now?: number; maxAgeSeconds: number }): Promise<UpdaterAge[]> {
  const now = opts.now ?? Date.now();
  const states = await new AdvisoryStore(db, dialect).updaterStatus();
  const imports = new Map((await adb(db).selectFrom('updater_import').selectAll().execute()).map((r) => [r.name, r]));
  return states.map((s) => {
    const imp = imports.get(s.name);
    const importedAt = imp ? Number(imp.imported_at) : null;
    const dataTime = imp && importedAt! >= s.checkedAt ? Number(imp.data_time) : s.checkedAt;
    const dataAgeSeconds = Math.max(0, Math.floor((now - dataTime) / 1000));
    return {
      name: s.name,
      fingerprint: s.fingerprint,
      records: s.records,
      dataTime,
      dataAgeSeconds,
      lastImport: importedAt,
      lastImportKind: imp?.kind ?? null,
      stale: dataAgeSeconds > opts.maxAgeSeconds,
    };
  });
}

/** The scanner data's age as this server's config judges it (SCANNER_DATA_MAX_AGE, air-gap mode), for the API and metrics. */
export class UpdaterStatusService {
  readonly maxAgeSeconds: number;
  readonly airgapped: boolean;

  constructor(private readonly ctx: ScannerContext) {
    this.maxAgeSeconds = dataMaxAgeSeconds(ctx.config);
    this.airgapped = isAirgapped(ctx.config);
  }

  ages(): Promise<UpdaterAge[]> {
    return updaterAges(this.ctx.db, this.ctx.dialect, { now: this.ctx.now(), maxAgeSeconds: this.maxAgeSeconds });
  }
}
