// berth serve: start the server, print where it listens, drain on SIGTERM.
import { loadConfig, type LoadOptions } from '../config/load.js';
import { createBerth } from '../server.js';
import { describeStorage } from '../storage/open.js';

export async function serve(opts: LoadOptions & { quiet?: boolean }): Promise<void> {
  const config = loadConfig(opts);
  // Warnings (refused logins and tokens, TLS reload problems) go to stderr as JSON lines; never secrets.
  // A fresh install: the first administrator can be created from the network only with this code (docs/UI.md).
  const announceSetupCode = (code: string, file: string) =>
    process.stdout.write(
      `No administrator exists yet. Create one in the web UI; from another machine it asks for this one-time setup code: ${code}\n` +
        `  (also in ${file}, readable only by this user; not needed from this machine)\n`,
    );
  const berth = await createBerth(config, { logger: { level: 'warn', stream: process.stderr }, announceSetupCode });
  const address = await berth.listen();
  const port = address.split(':').pop();
  const shown = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? `${address.split(':')[0]}://127.0.0.1:${port}` : address;
  process.stdout.write(`Berth listening on ${shown} (database: ${config.db.kind}, storage: ${describeStorage(config.storage)})\n`);
  if (berth.fips.on) process.stdout.write(`${berth.fips.line}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: finishing in-flight requests\n`);
    const timer = setTimeout(() => {
      process.stderr.write(`in-flight requests did not finish within ${config.shutdownGraceSeconds}s; exiting\n`);
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    timer.unref();
    berth.close().then(
      () => {
        process.stdout.write('Berth stopped\n');
        process.exit(0);
      },
      (e) => {
        process.stderr.write(`error while stopping: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
