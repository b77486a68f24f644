// berth chart …: Helm's OCI chart workflows (3.5 `helm chart` verbs with a local cache; 3.8+ push/pull of archives).
import type { Command } from 'commander';
import { ChartClient } from '../chart/client.js';
import { CredentialStore } from '../chart/credentials.js';
import { defaultCacheDir, LayoutCache } from '../chart/layout-cache.js';
import { progress } from './progress.js';

interface TransportFlags {
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  plainHttp?: boolean;
  registryConfig?: string;
}

export const transportOptions = (c: Command) =>
  c
    .option('--ca-file <file>', 'trust this CA certificate (PEM) for the registry, e.g. the ca.crt of berth certs init')
    .option('--insecure-skip-tls-verify', "do not verify the registry's TLS certificate")
    .option('--plain-http', 'talk to the registry over http:// instead of https://')
    .option(
      '--registry-config <file>',
      'credentials file (default $HELM_REGISTRY_CONFIG or ~/.config/helm/registry/config.json; ~/.docker/config.json is read too)',
    );

function client(o: TransportFlags = {}, onUpload?: (sent: number, total: number) => void): ChartClient {
  return new ChartClient({
    caFile: o.caFile,
    insecureSkipTlsVerify: o.insecureSkipTlsVerify,
    plainHttp: o.plainHttp,
    onUpload,
    credentials: new CredentialStore(process.env, o.registryConfig),
    cache: new LayoutCache(process.env.BERTH_CHART_CACHE || defaultCacheDir()),
    out: (line) => process.stdout.write(`${line}\n`),
  });
}

/** A chart push with a progress line for its blob uploads (on a terminal only). */
async function withUploadProgress(run: (onUpload: (sent: number, total: number) => void) => Promise<unknown>): Promise<void> {
  const bar = progress('chart push');
  try {
    await run((sent, total) => bar.update({ label: 'uploading', bytes: sent, totalBytes: total }));
  } finally {
    bar.done();
  }
}

export function registerChartCommands(program: Command): void {
  const chart = program.command('chart').description('Helm charts in OCI registries, as Helm writes them (no helm binary needed)');
  chart
    .command('save <dir> <ref>')
    .description('package a chart directory into the local cache under ref (Helm 3.5: helm chart save)')
    .action((dir: string, ref: string) => client().save(dir, ref));
  chart
    .command('list')
    .alias('ls')
    .description('list the charts in the local cache (Helm 3.5: helm chart list)')
    .action(() => client().list());
  chart
    .command('remove <ref>')
    .alias('rm')
    .description('remove a chart from the local cache (Helm 3.5: helm chart remove)')
    .action((ref: string) => client().remove(ref));
  transportOptions(chart.command('push <ref>').description('push a saved chart to its registry (Helm 3.5: helm chart push)')).action(
    (ref: string, o: TransportFlags) => withUploadProgress((up) => client(o, up).push(ref)),
  );
  transportOptions(
    chart
      .command('pull <ref>')
      .description(
        'host/repo:tag: pull into the local cache (Helm 3.5); oci://host/repo/name: download <name>-<version>.tgz (Helm 3.8+: helm pull)',
      ),
  )
    .option('--version <version>', 'with oci://: a version or a semver constraint such as ^1.2 (default: the latest)')
    .option('-d, --destination <dir>', 'with oci://: where to write the .tgz', '.')
    .option('--prov', 'with oci://: also fetch the provenance file')
    .action((ref: string, o: TransportFlags & { version?: string; destination: string; prov?: boolean }) =>
      ref.startsWith('oci://')
        ? client(o)
            .pullPackage(ref, o.version, o.destination, o.prov)
            .then(() => undefined)
        : client(o).pullToCache(ref),
    );
  chart
    .command('export <ref>')
    .description('write a cached chart out as a directory (Helm 3.5: helm chart export)')
    .option('-d, --destination <dir>', 'where to write the chart directory', '.')
    .action((ref: string, o: { destination: string }) => client().export(ref, o.destination));
  chart
    .command('package <dir>')
    .description('package a chart directory into <name>-<version>.tgz (helm package)')
    .option('-d, --destination <dir>', 'where to write the archive', '.')
    .action((dir: string, o: { destination: string }) =>
      client()
        .package(dir, o.destination)
        .then(() => undefined),
    );
  transportOptions(
    chart.command('push-package <archive> <remote>').description('push a chart archive to oci://host/path (Helm 3.8+: helm push)'),
  ).action((file: string, remote: string, o: TransportFlags) => withUploadProgress((up) => client(o, up).pushPackage(file, remote)));
}
