import Fastify from "fastify";
import { loadConfig } from "../config/load.js";
import { openContext } from "../server.js";
import { buildScanner } from "../scanner/setup.js";
import { clairApiPlugin } from "../scanner/clair-api/plugin.js";
import { addMetricsRoute, buildMetricsApp } from "../http/metrics-plugin.js";
import { metricsSettings } from "../metrics/config.js";
import { ScannerProcessMetrics } from "../metrics/scanner-process.js";
import { dataMaxAgeSeconds } from "../scanner/bundle/airgap.js";
import { updaterAges } from "../scanner/bundle/status.js";
async function open(o) {
  const config = loadConfig({ file: o.config, data: o.data });
  const { ctx, database } = await openContext(config);
  const s = buildScanner({ ...ctx, config: { ...config, raw: { ...config.raw, SECURITY_SCANNER_V4_ENDPOINT: void 0 } } }, { force: true });
  return { config, ctx, database, scanner: s };
}
function registerScannerCommands(program, serverOptions) {
  const scanner = program.command("scanner").description("the vulnerability scanner");
  serverOptions(scanner.command("serve").description("run the Clair v4-compatible scanner API on its own (needs SECURITY_SCANNER_V4_PSK)")).option("--listen <host:port>", "address to listen on (default 0.0.0.0:6060)").action(async (o) => {
    const { config, ctx, database, scanner: s } = await open(o);
    if (!s.psk) throw new Error("berth scanner serve needs SECURITY_SCANNER_V4_PSK (base64) in the config: the API would be open otherwise");
    const app = Fastify({ logger: { level: "warn", stream: process.stderr } });
    s.service.log = app.log;
    const ms = metricsSettings(config);
    let metricsApp;
    if (ms.enabled) {
      const maxAgeSeconds = dataMaxAgeSeconds(config);
      const metrics = new ScannerProcessMetrics({
        jobCounts: () => s.service.counts(),
        vulnerabilityCounts: () => s.service.vulnerabilityCounts(),
        updaterDataTimes: () => updaterAges(ctx.db, ctx.dialect, { maxAgeSeconds }),
        maxAgeSeconds
      }, ms.rowCountIntervalSeconds);
      s.service.observer = metrics.scanner.observer;
      if (ms.onMainPort) addMetricsRoute(app, { metrics, basicAuth: ms.basicAuth });
      if (ms.separate) {
        metricsApp = await buildMetricsApp({ metrics, basicAuth: ms.basicAuth });
        await metricsApp.listen({ host: ms.separate.host, port: ms.separate.port });
      }
    }
    await app.register(clairApiPlugin, { scanner: s.service, psk: s.psk });
    const listen = o.listen ?? "0.0.0.0:6060";
    const i = listen.lastIndexOf(":");
    const address = await app.listen({ host: listen.slice(0, i) || "0.0.0.0", port: Number(listen.slice(i + 1)) });
    s.service.schedule(config.raw.SCANNER_UPDATE_INTERVAL_SECONDS);
    process.stdout.write(`Berth scanner listening on ${address} (database: ${config.db.kind})
`);
    const stop = () => {
      void s.stop().then(() => app.close()).then(() => metricsApp?.close()).then(() => database.close()).then(() => process.exit(0), () => process.exit(1));
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  serverOptions(scanner.command("update").description("run the vulnerability-data updaters now, then re-match indexed images and notify")).option("--updater <name...>", "only these updaters (default SCANNER_UPDATERS, else those enabled by default)").action(async (o) => {
    const { database, scanner: s } = await open(o);
    try {
      const results = await s.service.runUpdaters(o.updater);
      for (const r of results) {
        process.stdout.write(r.unchanged ? `${r.updater}: unchanged
` : `${r.updater}: ${r.records} records (${r.added} added, ${r.updated} updated, ${r.withdrawn} withdrawn)
`);
      }
    } finally {
      await database.close();
    }
  });
  serverOptions(scanner.command("status").description("vulnerability data, the scan queue by state, recent failures")).option("--json", "machine-readable output").action(async (o) => {
    const { database, scanner: s } = await open(o);
    try {
      const updaters = await s.service.advisories.updaterStatus();
      const queue = await s.service.counts();
      const failures = (await s.service.queue.failures(20)).map((j) => ({ digest: j.digest, repository: j.repository, attempts: j.attempts, error: j.lastError }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ updaters, queue, failures }, null, 2)}
`);
        return;
      }
      process.stdout.write("vulnerability data:\n");
      if (!updaters.length) process.stdout.write("  none loaded (run `berth scanner update`)\n");
      for (const u of updaters) process.stdout.write(`  ${u.name}: ${u.records} records, updated ${new Date(u.updatedAt).toISOString()}, checked ${new Date(u.checkedAt).toISOString()}
`);
      process.stdout.write(`scan queue: ${Object.entries(queue).map(([k, v]) => `${k} ${v}`).join(", ")}
`);
      for (const f of failures) process.stdout.write(`  failed ${f.repository}@${f.digest} after ${f.attempts} attempts: ${f.error}
`);
    } finally {
      await database.close();
    }
  });
}
export {
  registerScannerCommands
};
//# sourceMappingURL=scanner.js.map
