import { ChartClient } from "../chart/client.js";
import { CredentialStore } from "../chart/credentials.js";
import { defaultCacheDir, LayoutCache } from "../chart/layout-cache.js";
const transportOptions = (c) => c.option("--ca-file <file>", "trust this CA certificate (PEM) for the registry, e.g. the ca.crt of berth certs init").option("--insecure-skip-tls-verify", "do not verify the registry's TLS certificate").option("--plain-http", "talk to the registry over http:// instead of https://").option("--registry-config <file>", "credentials file (default $HELM_REGISTRY_CONFIG or ~/.config/helm/registry/config.json; ~/.docker/config.json is read too)");
function client(o = {}) {
  return new ChartClient({
    caFile: o.caFile,
    insecureSkipTlsVerify: o.insecureSkipTlsVerify,
    plainHttp: o.plainHttp,
    credentials: new CredentialStore(process.env, o.registryConfig),
    cache: new LayoutCache(process.env.BERTH_CHART_CACHE || defaultCacheDir()),
    out: (line) => process.stdout.write(`${line}
`)
  });
}
function registerChartCommands(program) {
  const chart = program.command("chart").description("Helm charts in OCI registries, as Helm writes them (no helm binary needed)");
  chart.command("save <dir> <ref>").description("package a chart directory into the local cache under ref (Helm 3.5: helm chart save)").action((dir, ref) => client().save(dir, ref));
  chart.command("list").alias("ls").description("list the charts in the local cache (Helm 3.5: helm chart list)").action(() => client().list());
  chart.command("remove <ref>").alias("rm").description("remove a chart from the local cache (Helm 3.5: helm chart remove)").action((ref) => client().remove(ref));
  transportOptions(chart.command("push <ref>").description("push a saved chart to its registry (Helm 3.5: helm chart push)")).action((ref, o) => client(o).push(ref));
  transportOptions(chart.command("pull <ref>").description("host/repo:tag: pull into the local cache (Helm 3.5); oci://host/repo/name: download <name>-<version>.tgz (Helm 3.8+: helm pull)")).option("--version <version>", "with oci://: a version or a semver constraint such as ^1.2 (default: the latest)").option("-d, --destination <dir>", "with oci://: where to write the .tgz", ".").option("--prov", "with oci://: also fetch the provenance file").action((ref, o) => ref.startsWith("oci://") ? client(o).pullPackage(ref, o.version, o.destination, o.prov).then(() => void 0) : client(o).pullToCache(ref));
  chart.command("export <ref>").description("write a cached chart out as a directory (Helm 3.5: helm chart export)").option("-d, --destination <dir>", "where to write the chart directory", ".").action((ref, o) => client().export(ref, o.destination));
  chart.command("package <dir>").description("package a chart directory into <name>-<version>.tgz (helm package)").option("-d, --destination <dir>", "where to write the archive", ".").action((dir, o) => client().package(dir, o.destination).then(() => void 0));
  transportOptions(chart.command("push-package <archive> <remote>").description("push a chart archive to oci://host/path (Helm 3.8+: helm push)")).action((file, remote, o) => client(o).pushPackage(file, remote));
}
export {
  registerChartCommands,
  transportOptions
};
//# sourceMappingURL=chart.js.map
