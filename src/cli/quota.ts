// berth admin quota-recount [NAMESPACE...]: recomputes storage quota usage from scratch (docs/QUOTAS.md).
import { loadConfig } from '../config/load.js';
import { openContext } from '../server.js';
import { formatBytes } from '../services/quota/format.js';

export async function quotaRecount(namespaces: string[], o: { config?: string; data?: string }): Promise<void> {
  const config = loadConfig({ file: o.config, data: o.data });
  const { ctx, database } = await openContext(config);
  try {
    if (!ctx.quota) throw new Error('storage quotas are off: set FEATURE_QUOTA_MANAGEMENT: true in the config');
    const results = namespaces.length
      ? await Promise.all(namespaces.map((n) => ctx.quota!.recountNamespace(n)))
      : await ctx.quota.recountAll();
    for (const r of results) {
      const was =
        r.previousBytes === null ? 'not counted before' : r.previousBytes === r.sizeBytes ? 'unchanged' : `was ${r.previousBytes} bytes`;
      process.stdout.write(
        `${r.namespace || '(no namespace)'}: ${r.sizeBytes} bytes (${formatBytes(r.sizeBytes)}) in ${r.repositories} repositories, ${was}\n`,
      );
    }
    process.stdout.write(`recounted ${results.length} namespace${results.length === 1 ? '' : 's'}\n`);
  } finally {
    await database.close();
  }
}
