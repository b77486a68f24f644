import { loadConfig } from "../config/load.js";
import { createBerth } from "../server.js";
import { describeStorage } from "../storage/open.js";
async function serve(opts) {
  const config = loadConfig(opts);
  const announceSetupCode = (code, file) => process.stdout.write(
    `No administrator exists yet. Create one in the web UI; from another machine it asks for this one-time setup code: ${code}
  (also in ${file}, readable only by this user; not needed from this machine)
`
  );
  const berth = await createBerth(config, { logger: { level: "warn", stream: process.stderr }, announceSetupCode });
  const address = await berth.listen();
  const port = address.split(":").pop();
  const shown = config.listen.host === "0.0.0.0" || config.listen.host === "::" ? `${address.split(":")[0]}://127.0.0.1:${port}` : address;
  process.stdout.write(`Berth listening on ${shown} (database: ${config.db.kind}, storage: ${describeStorage(config.storage)})
`);
  if (berth.fips.on) process.stdout.write(`${berth.fips.line}
`);
  let stopping = false;
  const stop = (signal) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: finishing in-flight requests
`);
    const timer = setTimeout(() => {
      process.stderr.write(`in-flight requests did not finish within ${config.shutdownGraceSeconds}s; exiting
`);
      process.exit(1);
    }, config.shutdownGraceSeconds * 1e3);
    timer.unref();
    berth.close().then(() => {
      process.stdout.write("Berth stopped\n");
      process.exit(0);
    }, (e) => {
      process.stderr.write(`error while stopping: ${e.message}
`);
      process.exit(1);
    });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
export {
  serve
};
//# sourceMappingURL=serve.js.map
