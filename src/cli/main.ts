// The berth command line: thin wrappers that parse arguments and call a service.
import { Command } from 'commander';
import { ConfigError, loadConfig, readConfigFile, validateConfig } from '../config/load.js';
import { serve } from './serve.js';
import { runGc } from './gc.js';
import { createUser } from './admin.js';
import { registerChartCommands } from './chart.js';
import { registerLoginCommands } from './login.js';
import { registerScannerCommands } from './scanner.js';
import { registerScannerBundleCommands } from './scanner-bundle.js';

const program = new Command();
program.name('berth').description('Berth: a private registry for container images, Helm charts and OCI artifacts');

const serverOptions = (c: Command) =>
  c
    .option('--config <file>', 'config.yaml (Quay key names); BERTH_CONFIG also works')
    .option('--data <dir>', 'data directory for the default SQLite file and blobs (default ./data)');

serverOptions(program.command('serve').description('run the registry server'))
  .option('--listen <host:port>', 'address to listen on (default 0.0.0.0:8080)')
  .option('--fips', 'FIPS mode (FEATURE_FIPS): refuse to start unless the process runs with an OpenSSL FIPS provider; see docs/FIPS.md')
  .action(async (o) => serve({ file: o.config, data: o.data, listen: o.listen, fips: o.fips }));

const config = program.command('config').description('configuration tools');
config
  .command('validate <file>')
  .description('check a config.yaml and print every problem with its field path')
  .option('--check-connections', 'also try the blob store, the database and Redis once each and say what failed')
  .action(async (file: string, o: { checkConnections?: boolean }) => {
    const r = readConfigFile(file);
    const problems = [...r.problems, ...(r.problems.length ? [] : validateConfig(r.doc).problems)];
    if (problems.length) {
      for (const p of problems) process.stderr.write(`${p}\n`);
      process.exit(1);
    }
    if (!o.checkConnections) {
      process.stdout.write(`${file}: valid\n`);
      return;
    }
    const { checkConnections } = await import('./check-connections.js');
    // The file as the server would read it (environment overrides such as DB_URI apply).
    const checks = await checkConnections(loadConfig({ file }));
    for (const c of checks) (c.ok ? process.stdout : process.stderr).write(`${c.what}: ${c.ok ? 'ok' : 'FAILED'}: ${c.detail}\n`);
    const failed = checks.filter((c) => !c.ok).length;
    if (failed) {
      process.stderr.write(`${file}: valid, but ${failed} of ${checks.length} connections failed\n`);
      process.exit(1);
    }
    process.stdout.write(`${file}: valid; ${checks.length} connections work\n`);
  });

serverOptions(program.command('gc').description('delete blobs no manifest references and expired uploads'))
  .option('--delete-untagged', 'also delete manifests with no tag that nothing else references')
  .option('--dry-run', 'report what would be deleted, change nothing')
  .option('--grace <seconds>', 'keep anything touched within this many seconds (default GC_GRACE_SECONDS)')
  .option('--sweep', 'also run a complete safety-net sweep of every manifest, link, blob and stored file now')
  .action(async (o) => runGc(o));

const admin = program.command('admin').description('accounts administration');
serverOptions(admin.command('create-user <name>').description('create a user; the password is read from standard input and never printed'))
  .option('--password-stdin', 'read the password from standard input (required)')
  .option('--superuser', 'make the user a superuser')
  .option('--email <address>', "the user's email address")
  .action(async (name: string, o) => createUser(name, o));
serverOptions(
  admin
    .command('quota-recount [namespaces...]')
    .description('recompute storage quota usage from scratch (all namespaces, or the ones named)'),
).action(async (namespaces: string[], o) => (await import('./quota.js')).quotaRecount(namespaces, o));

const certs = program.command('certs').description('TLS certificates');
serverOptions(
  certs.command('init').description('create a local CA and a server certificate for SERVER_HOSTNAME; prints how to trust the CA'),
)
  .option('--dir <dir>', 'where to write ca.crt, ca.key, server.crt, server.key (default <DATA_DIR>/tls)')
  .option('--hostname <name...>', 'more DNS names or IP addresses for the certificate')
  .option('--days <n>', 'validity of the server certificate (default 397)')
  .action(async (o) => (await import('./certs.js')).certsInit(o));

program
  .command('operator')
  .description('run the BerthRegistry operator on Kubernetes (in-cluster config inside a pod; docs/KUBERNETES.md)')
  .option('--kubeconfig <file>', 'kubeconfig file (default: in-cluster, else KUBECONFIG or ~/.kube/config)')
  .option('--namespace <ns>', 'watch this namespace only (default: every namespace; WATCH_NAMESPACE also works)')
  .action(async (o) => (await import('./operator.js')).runOperator(o));

registerChartCommands(program);
registerLoginCommands(program);
registerScannerCommands(program, serverOptions);
registerScannerBundleCommands(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.problems.join('\n')}\n`);
    process.exit(1);
  }

  process.stderr.write(`berth: ${(e as Error).message}\n`);
  process.exit(1);
});
