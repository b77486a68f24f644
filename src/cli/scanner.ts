// berth scanner serve | update | status
//   serve   the Clair v4-compatible scanner on its own (PSK JWT auth; layers fetched by URI as Clair does)
//   update  run the updaters now (SCANNER_UPDATERS, or --updater …), then re-match and notify
//   status  updaters' data, the queue by state, recent failures with their reasons
import type { Command } from 'commander';
import Fastify from 'fastify';
import { loadConfig, type LoadOptions } from '../config/load.js';
import { openContext } from '../server.js';
import { buildScanner, scannerCounts, type ScannerContext } from '../scanner/setup.js';
import type { ScannerLogger, ScannerObserver } from '../scanner/log.js';
import { clairApiPlugin } from '../http/scanner-api/plugin.js';
import { addMetricsRoute, buildMetricsApp } from '../http/metrics-plugin.js';
import { metricsSettings } from '../metrics/config.js';
import { ScannerProcessMetrics } from '../metrics/scanner-process.js';

type Opts = LoadOptions & { config?: string };

/** The CLI's scanner works in-process (never through SECURITY_SCANNER_V4_ENDPOINT). */
function local(ctx: ScannerContext): ScannerContext {
  return { ...ctx, config: { ...ctx.config, raw: { ...ctx.config.raw, SECURITY_SCANNER_V4_ENDPOINT: undefined } } };
}

/** The CLI always builds the in-process scanner (even with FEATURE_SECURITY_SCANNER off), without workers. */
function cliScanner(ctx: ScannerContext, parts: { log?: ScannerLogger; observer?: ScannerObserver } = {}) {
  return buildScanner(local(ctx), { force: true, ...parts })!;
}

// The scanner's commands open no sealed value (and `scanner serve` has a database of its own): no secret key check.
async function open(o: Opts) {
  const config = loadConfig({ file: o.config, data: o.data });
  const { ctx, database } = await openContext(config, { checkSecretKey: false });
  return { config, ctx, database, scanner: cliScanner(ctx) };
}

export function registerScannerCommands(program: Command, serverOptions: (c: Command) => Command): void {
  const scanner = program.command('scanner').description('the vulnerability scanner');

  serverOptions(scanner.command('serve').description('run the Clair v4-compatible scanner API on its own (needs SECURITY_SCANNER_V4_PSK)'))
    .option('--listen <host:port>', 'address to listen on (default 0.0.0.0:6060)')
    .action(async (o: Opts & { listen?: string }) => {
      const config = loadConfig({ file: o.config, data: o.data });
      const app = Fastify({ logger: { level: 'warn', stream: process.stderr } });
      // Prometheus metrics of this scanner (queue, scans, vulnerabilities, data age; docs/MONITORING.md): GET /metrics
      // beside the API (outside its PSK auth; METRICS_BASIC_AUTH applies), or on METRICS_PORT alone. Built before the
      // scanner, which reports to them.
      const ms = metricsSettings(config);
      const { ctx, database } = await openContext(config, { checkSecretKey: false });
      const metrics = ms.enabled
        ? new ScannerProcessMetrics(scannerCounts(local(ctx)), ms.rowCountIntervalSeconds, ms.nodeCollectors)
        : undefined;
      const s = cliScanner(ctx, { log: app.log, observer: metrics?.scanner.observer });
      if (!s.psk)
        throw new Error('berth scanner serve needs SECURITY_SCANNER_V4_PSK (base64) in the config: the API would be open otherwise');
      let metricsApp: Awaited<ReturnType<typeof buildMetricsApp>> | undefined;
      if (metrics) {
        if (ms.onMainPort) addMetricsRoute(app, { metrics, basicAuth: ms.basicAuth });
        if (ms.separate) {
          metricsApp = await buildMetricsApp({ metrics, basicAuth: ms.basicAuth });
          await metricsApp.listen({ host: ms.separate.host, port: ms.separate.port });
        }
      }
      await app.register(clairApiPlugin, { scanner: s.service, psk: s.psk });
      const listen = o.listen ?? '0.0.0.0:6060';
      const i = listen.lastIndexOf(':');
      const address = await app.listen({ host: listen.slice(0, i) || '0.0.0.0', port: Number(listen.slice(i + 1)) });
      s.service.schedule(config.raw.SCANNER_UPDATE_INTERVAL_SECONDS);
      process.stdout.write(`Berth scanner listening on ${address} (database: ${config.db.kind})\n`);
      const stop = () => {
        void s
          .stop()
          .then(() => app.close())
          .then(() => metricsApp?.close())
          .then(() => database.close())
          .then(
            () => process.exit(0),
            () => process.exit(1),
          );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    });

  serverOptions(scanner.command('update').description('run the vulnerability-data updaters now, then re-match indexed images and notify'))
    .option('--updater <name...>', 'only these updaters (default SCANNER_UPDATERS, else those enabled by default)')
    .action(async (o: Opts & { updater?: string[] }) => {
      const { database, scanner: s } = await open(o);
      try {
        const results = await s.service.runUpdaters(o.updater);
        for (const r of results) {
          process.stdout.write(
            r.unchanged
              ? `${r.updater}: unchanged\n`
              : `${r.updater}: ${r.records} records (${r.added} added, ${r.updated} updated, ${r.withdrawn} withdrawn)\n`,
          );
        }
      } finally {
        await database.close();
      }
    });

  serverOptions(scanner.command('status').description('vulnerability data, the scan queue by state, recent failures'))
    .option('--json', 'machine-readable output')
    .action(async (o: Opts & { json?: boolean }) => {
      const { database, scanner: s } = await open(o);
      try {
        const updaters = await s.service.advisories.updaterStatus();
        const queue = await s.service.counts();
        const failures = (await s.service.queue.failures(20)).map((j) => ({
          digest: j.digest,
          repository: j.repository,
          attempts: j.attempts,
          error: j.lastError,
        }));
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ updaters, queue, failures }, null, 2)}\n`);
          return;
        }
        process.stdout.write('vulnerability data:\n');
        if (!updaters.length) process.stdout.write('  none loaded (run `berth scanner update`)\n');
        for (const u of updaters)
          process.stdout.write(
            `  ${u.name}: ${u.records} records, updated ${new Date(u.updatedAt).toISOString()}, checked ${new Date(u.checkedAt).toISOString()}\n`,
          );
        process.stdout.write(
          `scan queue: ${Object.entries(queue)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}\n`,
        );
        for (const f of failures) process.stdout.write(`  failed ${f.repository}@${f.digest} after ${f.attempts} attempts: ${f.error}\n`);
      } finally {
        await database.close();
      }
    });
}
