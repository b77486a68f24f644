// berth login / logout: registry credentials where `helm registry login` keeps them (docker's file format).
import type { Command } from 'commander';
import { ChartError } from '../chart/errors.js';
import { CredentialStore } from '../chart/credentials.js';
import { RegistryClient } from '../chart/registry-client.js';
import { transportOptions } from './chart.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

const hostOf = (h: string) => h.replace(/^(oci|https?):\/\//, '').replace(/\/.*$/, '');

export function registerLoginCommands(program: Command): void {
  transportOptions(
    program
      .command('login <host>')
      .description('log in to a registry (checks the credentials with the token flow, then stores them like helm registry login)'),
  )
    .option('-u, --username <name>', 'registry username')
    .option('-p, --password <password>', 'registry password or token (prefer --password-stdin)')
    .option('--password-stdin', 'read the password or token from standard input')
    .action(
      async (
        rawHost: string,
        o: {
          username?: string;
          password?: string;
          passwordStdin?: boolean;
          caFile?: string;
          insecureSkipTlsVerify?: boolean;
          plainHttp?: boolean;
          registryConfig?: string;
        },
      ) => {
        const host = hostOf(rawHost);
        if (!o.username) throw new ChartError('a username is needed: berth login <host> -u <name> --password-stdin');
        if (o.password && o.passwordStdin) throw new ChartError('use --password or --password-stdin, not both');
        const password = o.passwordStdin ? await readStdin() : (o.password ?? process.env.BERTH_PASSWORD);
        if (!password) throw new ChartError('a password is needed: pipe it into --password-stdin');
        const store = new CredentialStore(process.env, o.registryConfig);
        const reg = new RegistryClient(host, store, o, { username: o.username, password });
        try {
          await reg.login();
        } finally {
          reg.close();
        }
        store.set(host, { username: o.username, password });
        process.stdout.write('Login Succeeded\n');
      },
    );
  program
    .command('logout <host>')
    .description('remove the stored credentials of a registry')
    .option('--registry-config <file>', 'credentials file (default $HELM_REGISTRY_CONFIG or ~/.config/helm/registry/config.json)')
    .action((rawHost: string, o: { registryConfig?: string }) => {
      const host = hostOf(rawHost);
      if (!new CredentialStore(process.env, o.registryConfig).remove(host)) throw new ChartError(`not logged in to ${host}`);
      process.stdout.write(`Removing login credentials for ${host}\n`);
    });
}
