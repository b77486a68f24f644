// berth gc: one garbage-collection pass, then a one-line summary.
import { loadConfig } from '../config/load.js';
import { openContext } from '../server.js';
import { collectGarbageExclusive } from '../services/gc-lease.js';
import { buildScanner } from '../scanner/setup.js';
import { buildAudit } from '../services/audit/index.js';
import { formatBytes, progress } from './progress.js';

export async function runGc(o: {
  config?: string;
  data?: string;
  deleteUntagged?: boolean;
  dryRun?: boolean;
  grace?: string;
  sweep?: boolean;
}): Promise<void> {
  const config = loadConfig({ file: o.config, data: o.data });
  if (o.grace !== undefined && !/^\d+$/.test(o.grace)) throw new Error(`--grace must be a number of seconds, not "${o.grace}"`);
  const { ctx: base, database } = await openContext(config);
  // The scanner (no workers) forgets the manifests gc deletes, then sweeps what is left over.
  const scanner = o.dryRun ? undefined : buildScanner(base);
  const forgotten = { manifests: 0, layers: 0 };
  const ctx = !scanner
    ? base
    : {
        ...base,
        onManifestsRemoved: async (digests: string[]) => {
          const f = await scanner.service.manifestsRemoved(digests);
          forgotten.manifests += f.manifests;
          forgotten.layers += f.layers;
        },
      };
  try {
    const bar = progress('gc');
    const run = await collectGarbageExclusive(ctx, {
      deleteUntagged: o.deleteUntagged,
      dryRun: o.dryRun,
      sweep: o.sweep,
      graceSeconds: o.grace === undefined ? undefined : Number(o.grace),
      onProgress: (p) =>
        bar.update({ label: p.phase, done: p.done, total: p.total, unit: p.phase === 'sweep' ? 'rows' : p.phase, bytes: p.bytes }),
    }).finally(() => bar.done());
    if (!run.ran) {
      process.stdout.write(`gc: skipped: ${run.reason}\n`);
      return;
    }
    const r = run.report;
    const verb = o.dryRun ? 'would free' : 'freed';
    process.stdout.write(
      `gc: ${verb} ${r.bytesFreed} bytes (${formatBytes(r.bytesFreed)}): ${r.blobsRemoved} blobs, ` +
        `${r.manifestsRemoved} untagged manifests, ${r.linksRemoved} repository links, ${r.uploadsRemoved} expired uploads, ${r.strayFilesRemoved} stray files, ` +
        `${r.historyPruned} expired tag history entries; ${r.candidatesExamined} candidates examined` +
        (r.sweptRows ? `, sweep: ${r.sweptRows} rows\n` : '\n'),
    );
    if (!o.dryRun) {
      const days = config.raw.LOGS_RETENTION_DAYS;
      const pruned = await buildAudit(ctx).log.prune();
      process.stdout.write(
        `gc: audit log: removed ${pruned} entries older than ${days ? `${days} days (LOGS_RETENTION_DAYS)` : 'forever (LOGS_RETENTION_DAYS: 0 keeps all)'}\n`,
      );
    }
    if (scanner) {
      const c = await scanner.service.cleanup();
      process.stdout.write(
        `gc: scanner: removed the scan data of ${forgotten.manifests + c.manifests} deleted manifests and ${forgotten.layers + c.layers} unused layer results\n`,
      );
    }
  } finally {
    ctx.store.close?.();
    await database.close();
  }
}
