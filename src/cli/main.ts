// The berth command line: thin wrappers that parse arguments and call a service.
import { Command } from 'commander';
import { ConfigError, readConfigFile, validateConfig } from '../config/load.js';
import { serve } from './serve.js';
import { runGc } from './gc.js';

const program = new Command();
program.name('berth').description('Berth: a private registry for container images, Helm charts and OCI artifacts');

const serverOptions = (c: Command) => c
  .option('--config <file>', 'config.yaml (Quay key names); BERTH_CONFIG also works')
  .option('--data <dir>', 'data directory for the default SQLite file and blobs (default ./data)');

serverOptions(program.command('serve').description('run the registry server'))
  .option('--listen <host:port>', 'address to listen on (default 0.0.0.0:8080)')
  .action(async (o) => serve({ file: o.config, data: o.data, listen: o.listen }));

const config = program.command('config').description('configuration tools');
config.command('validate <file>').description('check a config.yaml and print every problem with its field path')
  .action((file: string) => {
    const r = readConfigFile(file);
    const problems = [...r.problems, ...(r.problems.length ? [] : validateConfig(r.doc).problems)];
    if (problems.length) {
      for (const p of problems) process.stderr.write(`${p}\n`);
      process.exit(1);
    }
    process.stdout.write(`${file}: valid\n`);
  });

serverOptions(program.command('gc').description('delete blobs no manifest references and expired uploads'))
  .option('--delete-untagged', 'also delete manifests with no tag that nothing else references')
  .option('--dry-run', 'report what would be deleted, change nothing')
  .option('--grace <seconds>', 'keep anything touched within this many seconds (default GC_GRACE_SECONDS)')
  .action(async (o) => runGc(o));

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.problems.join('\n')}\n`);
    process.exit(1);
  }
  process.stderr.write(`berth: ${(e as Error).message}\n`);
  process.exit(1);
});

