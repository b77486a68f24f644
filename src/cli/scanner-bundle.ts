// berth scanner export-updaters / import-updaters: air-gapped vulnerability data (docs/AIRGAP.md).
import { progress } from './progress.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '../config/load.js';
import { openDatabase } from '../db/database.js';
import { buildBlobStore } from '../storage/open.js';
import { DbUploadStateStore } from '../db/upload-state.js';
import { buildScanner } from '../scanner/setup.js';
import { exportBundle, updaterSources, type ExportProgress, type UpdaterRun } from '../scanner/bundle/export.js';
import { importBundle, readDeltaBase, type ImportReport } from '../scanner/bundle/import.js';
import { isAirgapped, scannerFetchOptions } from '../scanner/bundle/airgap.js';
import { BundleError } from '../scanner/bundle/format.js';
import { updaters as allUpdaters, type Updater } from '../scanner/updaters/index.js';

function chooseUpdaters(list: string | undefined): Updater[] {
  if (!list) return allUpdaters.filter((u) => u.enabledByDefault);
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return names.map((n) => {
    const u = allUpdaters.find((x) => x.name === n || x.name === `osv-${n}`);
    if (!u) throw new Error(`--updater: no updater named "${n}" (known: ${allUpdaters.map((x) => x.name).join(', ')})`);
    return u;
  });
}

function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i ? 1 : 0)} ${u[i]}`;
}

export function printImportReport(r: ImportReport, out: NodeJS.WritableStream = process.stdout): void {
  const head =
    r.format === 'clair'
      ? 'Clair export (clairctl export-updaters format; no checksum or signature in that format)'
      : `bundle created ${r.created}, sha256 ${r.sha256} ok${r.signed ? `, signed by key ${r.keyId?.slice(0, 16)}…` : ', unsigned'}`;
  out.write(`${head}\n`);
  for (const c of r.changes) {
    out.write(
      c.status === 'skipped'
        ? `  ${c.updater}: already current (${c.records} records), skipped\n`
        : `  ${c.updater}: ${c.kind}: ${c.added} new, ${c.updated} updated, ${c.withdrawn} withdrawn; ${c.records} records now\n`,
    );
  }
  for (const [u, n] of Object.entries(r.unusable ?? {}))
    if (n) out.write(`  ${u}: ${n} records left out (no package or no version scheme Berth matches)\n`);
  const imported = r.changes.filter((c) => c.status === 'imported').length;
  out.write(`${imported} updater(s) imported, ${r.changes.length - imported} skipped\n`);
}

const serverOptions = (c: Command) =>
  c
    .option('--config <file>', 'config.yaml (Quay key names); BERTH_CONFIG also works')
    .option('--data <dir>', 'data directory for the default SQLite file and blobs (default ./data)');

/** Registers `berth scanner export-updaters` and `import-updaters` (creates `scanner` when missing). */
export function registerScannerBundleCommands(program: Command): void {
  const scanner = program.commands.find((c) => c.name() === 'scanner') ?? program.command('scanner').description('vulnerability scanner');

  serverOptions(
    scanner
      .command('export-updaters <file>')
      .description('run updaters and write their data to one bundle (.gz gzip, .zst zstd, else plain NDJSON; - for stdout)'),
  )
    .option('--updater <names>', 'comma-separated updaters (default: every updater enabled by default)')
    .option('--strict', 'exit non-zero when any updater fails')
    .option('--sign <key.pem>', 'sign the bundle with this ECDSA P-256 private key (PEM)')
    .option('--delta-from <bundle|index>', 'write only what changed since this previous full bundle (or --write-index file)')
    .option('--write-index <file>', 'also write a small index of this export, usable as a later --delta-from')
    .option('--base-url <updater=url...>', 'fetch an updater from a mirror with the upstream layout')
    .option('--proxy <url>', 'HTTP(S) proxy for downloads')
    .action(async (file: string, o) => {
      const config = loadConfig({ file: o.config, data: o.data });
      if (isAirgapped(config)) {
        throw new Error(
          'export-updaters fetches from the internet, and this configuration is air-gapped (SCANNER_AIRGAP / airgap: true): run it on a connected machine',
        );
      }
      const list = chooseUpdaters(o.updater);
      const bases = new Map<string, string>();
      for (const kv of (o.baseUrl ?? []) as string[]) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new Error(`--base-url wants updater=url, not "${kv}"`);
        bases.set(kv.slice(0, i), kv.slice(i + 1));
      }
      const signKeyPem = o.sign ? readFileSync(o.sign, 'utf8') : undefined;
      const deltaFrom = o.deltaFrom ? await readDeltaBase(o.deltaFrom) : undefined;
      const runs: UpdaterRun[] = [];
      const p = progress('export');
      const started = Date.now();
      const sources = updaterSources(list, {
        runs,
        fetch: (u) => ({
          ...scannerFetchOptions(config, u.name),
          ...(bases.get(u.name) ? { baseUrl: bases.get(u.name) } : {}),
          ...(o.proxy ? { proxy: o.proxy } : {}),
        }),
        onStart: (u) => p.update({ label: `${u.name}: fetching`, done: undefined, bytes: undefined }),
      });
      const onProgress = (x: ExportProgress) =>
        p.update(
          x.phase === 'collect'
            ? { label: `${x.updater}: reading`, done: x.records, unit: 'records', bytes: undefined }
            : { label: `${x.updater}: writing`, done: x.records, unit: 'records', bytes: x.bytes },
        );
      const r = await exportBundle(file, sources, { signKeyPem, deltaFrom, indexFile: o.writeIndex, onProgress, skipFailedSources: true });
      p.done();
      const err = process.stderr;
      for (const u of r.updaters) {
        err.write(`  ${u.name}: ${u.records} records${u.delta_base !== undefined ? ` changed, ${u.withdrawn} withdrawn (delta)` : ''}\n`);
      }
      const failures = [...runs.filter((x) => !x.ok).map((x) => ({ updater: x.updater, error: x.error ?? 'failed' })), ...r.skipped].filter(
        (x, i, a) => a.findIndex((y) => y.updater === x.updater) === i,
      );
      for (const f of failures) err.write(`  ${f.updater}: FAILED: ${f.error}\n`);
      err.write(
        `wrote ${file}: ${r.updaters.length} updater(s), ${r.lines - 1} records, ${fmtBytes(r.bytes)} uncompressed, sha256 ${r.sha256}` +
          `${r.signed ? ', signed' : ''} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
      if (failures.length && o.strict) {
        err.write(`--strict: ${failures.length} updater(s) failed\n`);
        process.exitCode = 1;
      }
    });

  serverOptions(
    scanner
      .command('import-updaters <bundle>')
      .description('import a bundle (a path, - for stdin, or an http(s) URL; Berth or Clair export format)'),
  )
    .option('--verify <pub.pem>', 'refuse a bundle not signed by this ECDSA P-256 public key')
    .option('--proxy <url>', 'HTTP(S) proxy when the bundle is a URL')
    .action(async (input: string, o) => {
      const config = loadConfig({ file: o.config, data: o.data });
      const verifyKeyPem = o.verify ? readFileSync(o.verify, 'utf8') : undefined;
      const database = await openDatabase(config.db);
      const p = progress('import');
      try {
        const r = await importBundle(database.db, database.dialect, input, {
          verifyKeyPem,
          proxy: o.proxy,
          onProgress: (m) => {
            p.update({ label: m, done: undefined, total: undefined });
            if (process.env.BERTH_PROGRESS_LOG === '1') process.stderr.write(`${m}\n`);
          },
          onRecords: (updater, done, total) => p.update({ label: `${updater}: importing`, done, total, unit: 'records' }),
          // New data changes reports: re-match every indexed manifest (and notify) right away.
          afterImport: async (changes) => {
            if (!changes.some((c) => c.status === 'imported' && (c.added || c.updated || c.withdrawn))) return;
            const ctx = {
              config,
              db: database.db,
              dialect: database.dialect,
              store: await buildBlobStore(config.storage, new DbUploadStateStore(database.db)),
              now: () => Date.now(),
            };
            const scanner = buildScanner(ctx, { force: true });
            const m = await scanner!.service.rematchAll();
            process.stdout.write(`re-matched ${m.manifests} indexed manifests; ${m.notifications} new notifications\n`);
          },
        });
        p.done();
        printImportReport(r);
      } catch (e) {
        p.done();
        if (e instanceof BundleError) throw e;
        throw e;
      } finally {
        await database.close();
      }
    });
}
