// The chart workflows Helm offers against OCI registries, with Helm's output lines:
//   Helm 3.5 (`helm chart save|list|push|pull|remove|export`, local OCI-layout cache) and
//   Helm 3.8+ (`helm push <tgz> oci://…`, `helm pull oci://… --version <constraint>`).
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import { HELM } from '../oci/artifact-policy.js';
import { ChartError } from './errors.js';
import { goJson, sortedMap } from './gojson.js';
import { type LayoutCache, OCI_MANIFEST, type Descriptor, type OciManifest } from './layout-cache.js';
import { LOOSE_SEMVER, metadataConfigJson, metadataFrom, validateMetadata, type ChartMetadata } from './metadata.js';
import { archiveName, loadChartArchive, loadChartDir, packageChart, saveChartDir, type Chart } from './package.js';
import { parseRef, refString, tagToVersion, versionToTag, type ChartRef } from './reference.js';
import { RegistryClient, type TransportOptions } from './registry-client.js';
import type { CredentialStore } from './credentials.js';

export interface ChartClientOptions extends TransportOptions {
  cache: LayoutCache;
  credentials: CredentialStore;
  out: (line: string) => void;
}

/** Helm's byteCountBinary. */
export function byteCountBinary(b: number): string {
  const unit = 1024;
  if (b < unit) return `${b} B`;
  let div = unit;
  let exp = 0;
  for (let n = Math.floor(b / unit); n >= unit; n = Math.floor(n / unit)) {
    div *= unit;
    exp++;
  }
  return `${(b / div).toFixed(1)} ${'KMGTPE'[exp]}iB`;
}

/** docker/go-units HumanDuration + " ago" (Helm's timeAgo). */
export function timeAgo(t: Date, now = new Date()): string {
  const s = Math.floor((now.getTime() - t.getTime()) / 1000);
  const h = s / 3600;
  let d: string;
  if (s < 1) d = 'Less than a second';
  else if (s === 1) d = '1 second';
  else if (s < 60) d = `${s} seconds`;
  else if (Math.floor(s / 60) === 1) d = 'About a minute';
  else if (s < 3600) d = `${Math.floor(s / 60)} minutes`;
  else if (Math.round(h) === 1) d = 'About an hour';
  else if (h < 48) d = `${Math.round(h)} hours`;
  else if (h < 24 * 7 * 2) d = `${Math.floor(h / 24)} days`;
  else if (h < 24 * 30 * 2) d = `${Math.floor(h / 24 / 7)} weeks`;
  else if (h < 24 * 365 * 2) d = `${Math.floor(h / 24 / 30)} months`;
  else d = `${Math.floor(h / 24 / 365)} years`;
  return `${d} ago`;
}

/** Go's time.Format(time.RFC3339) of a local time (Z when the zone is UTC). */
export function rfc3339(t: Date): string {
  const off = -t.getTimezoneOffset();
  const local = new Date(t.getTime() + off * 60_000).toISOString().replace(/\.\d{3}Z$/, '');
  if (off === 0) return `${local}Z`;
  const a = Math.abs(off);
  return `${local}${off > 0 ? '+' : '-'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Helm's generateChartOCIAnnotations + the chart's own annotations (title and version cannot be overridden). */
export function chartAnnotations(md: ChartMetadata, created: string): Record<string, string> {
  const a: Record<string, string> = {};
  const add = (k: string, v: string | undefined) => {
    if (v && v.trim() !== '') a[k] = v;
  };
  add('org.opencontainers.image.description', md.description);
  add('org.opencontainers.image.title', md.name);
  add('org.opencontainers.image.version', md.version);
  add('org.opencontainers.image.url', md.home);
  add('org.opencontainers.image.created', created);
  if (md.sources?.length) add('org.opencontainers.image.source', md.sources[0]);
  if (md.maintainers?.length) {
    add('org.opencontainers.image.authors', md.maintainers.map((m) => `${m.name ?? ''}${m.email ? ` (${m.email})` : ''}`).join(', '));
  }
  for (const [k, v] of Object.entries(md.annotations ?? {})) {
    if (k === 'org.opencontainers.image.version' || k === 'org.opencontainers.image.title') continue;
    a[k] = v;
  }
  return sortedMap(a);
}

/** An image manifest as Go's json.Marshal(ocispec.Manifest) writes it: no mediaType field. */
export function manifestJson(config: Descriptor, layers: Descriptor[], annotations?: Record<string, string>): Buffer {
  const d = (x: Descriptor) => ({ mediaType: x.mediaType, digest: x.digest, size: x.size });
  const m: Record<string, unknown> = { schemaVersion: 2, config: d(config), layers: layers.map(d) };
  if (annotations && Object.keys(annotations).length) m.annotations = annotations;
  return Buffer.from(goJson(m));
}

/** Helm's GetTagMatchingVersionOrConstraint over tags sorted newest first. */
export function matchVersion(tags: string[], constraint: string): string | undefined {
  const versions = tags.map((t) => tagToVersion(t)).filter((v) => semver.valid(v) === v);
  versions.sort((a, b) => semver.rcompare(a, b));
  if (constraint && constraint.split('.').length === 3 && versions.includes(constraint)) return constraint;
  const range = constraint === '' ? '*' : constraint;
  if (semver.validRange(range) === null) throw new ChartError(`improper constraint: ${constraint}`);
  return versions.find((v) => semver.satisfies(v, range));
}

interface CacheEntry {
  name: string;
  manifestDesc: Descriptor;
  manifest: OciManifest;
  content: Descriptor;
  chart: Chart;
  created: Date;
}

export class ChartClient {
  constructor(private readonly o: ChartClientOptions) {}

  private registry(host: string): RegistryClient {
    return new RegistryClient(host, this.o.credentials, this.o);
  }

  // ---------------------------------------------------------------- Helm 3.5: local cache

  private fetch(name: string): CacheEntry | undefined {
    const desc = this.o.cache.find(name);
    if (!desc) return undefined;
    const manifest = this.o.cache.manifest(desc);
    if (manifest.layers.length !== 1) throw new ChartError(`manifest does not contain exactly 1 layer (total: ${manifest.layers.length})`);
    const content = manifest.layers.find((l) => l.mediaType === HELM.chart);
    if (!content) throw new ChartError(`manifest does not contain a layer with mediatype ${HELM.chart}`);
    const chart = loadChartArchive(this.o.cache.getBlob(content.digest));
    return { name, manifestDesc: desc, manifest, content, chart, created: this.o.cache.blobTime(content.digest) };
  }

  private summary(e: CacheEntry): void {
    this.o.out(`ref:     ${e.name}`);
    this.o.out(`digest:  ${e.manifestDesc.digest.split(':')[1]}`);
    this.o.out(`size:    ${byteCountBinary(e.content.size)}`);
    this.o.out(`name:    ${e.chart.metadata.name}`);
    this.o.out(`version: ${e.chart.metadata.version}`);
  }

  private cacheRef(raw: string, needTag = true): ChartRef {
    const r = parseRef(raw);
    if (needTag && !r.tag) throw new ChartError('tag explicitly required');
    return r;
  }

  /** `helm chart save <dir> <ref>`: packages the chart into the cache under ref (tag defaults to the chart version). */
  async save(dir: string, rawRef: string): Promise<void> {
    const chart = loadChartDir(dir);
    const r = parseRef(rawRef);
    r.tag ??= versionToTag(chart.metadata.version!);
    const name = refString(r);
    const cache = this.o.cache;
    const config = cache.putBlob(HELM.config, metadataConfigJson(chart.metadata));
    const content = cache.putBlob(HELM.chart, await packageChart(chart));
    const manifestBytes = manifestJson(config, [content]);
    const manifestDesc = cache.putBlob(OCI_MANIFEST, manifestBytes);
    this.summary({
      name,
      manifestDesc,
      manifest: JSON.parse(manifestBytes.toString()) as OciManifest,
      content,
      chart,
      created: new Date(),
    });
    cache.addReference(name, manifestDesc);
    this.o.out(`${r.tag}: saved`);
  }

  /** `helm chart list` */
  list(): void {
    const rows: string[][] = [['REF', 'NAME', 'VERSION', 'DIGEST', 'SIZE', 'CREATED']];
    const entries = this.o.cache
      .references()
      .map((x) => x.name)
      .sort()
      .map((n) => this.fetch(n)!)
      .filter(Boolean);
    for (const e of entries) {
      rows.push([
        e.name,
        e.chart.metadata.name!,
        e.chart.metadata.version!,
        e.manifestDesc.digest.split(':')[1].slice(0, 7),
        byteCountBinary(e.content.size),
        timeAgo(e.created),
      ]);
    }
    // gosuri/uitable: cells cut to 60 characters, padded to the column width, joined by a tab.
    const cut = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => cut(r[i]).length)));
    for (const r of rows) this.o.out(r.map((c, i) => cut(c).padEnd(widths[i])).join('\t'));
    this.o.out('');
  }

  /** `helm chart remove <ref>` */
  remove(rawRef: string): void {
    const r = this.cacheRef(rawRef);
    if (!this.o.cache.removeReference(refString(r))) throw new ChartError(`Chart not found: ${refString(r)}`);
    this.o.out(`${r.tag}: removed`);
  }

  /** `helm chart push <ref>`: uploads a saved chart (config + one content layer) and its manifest. */
  async push(rawRef: string): Promise<void> {
    const r = this.cacheRef(rawRef);
    const name = refString(r);
    const e = this.fetch(name);
    if (!e) throw new ChartError(`Chart not found: ${name} (save it first: berth chart save <dir> ${name})`);
    this.o.out(`The push refers to repository [${r.registry}/${r.repository}]`);
    this.summary(e);
    const reg = this.registry(r.registry);
    try {
      for (const d of [e.manifest.config, ...e.manifest.layers]) await reg.pushBlob(r.repository, this.o.cache.getBlob(d.digest));
      await reg.putManifest(r.repository, r.tag!, this.o.cache.getBlob(e.manifestDesc.digest), OCI_MANIFEST);
    } finally {
      reg.close();
    }
    const n = e.manifest.layers.length;
    this.o.out(`${r.tag}: pushed to remote (${n} layer${n > 1 ? 's' : ''}, ${byteCountBinary(e.content.size)} total)`);
  }

  /** Downloads a chart manifest + config + layers; explains a missing chart or version. */
  private async download(
    reg: RegistryClient,
    r: ChartRef,
    withProv = false,
  ): Promise<{ manifestBytes: Buffer; digest: string; manifest: OciManifest; blobs: Map<string, Buffer> }> {
    const reference = r.digest ?? r.tag!;
    const got = await reg.getManifest(r.repository, reference, [OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.v2+json']);
    if (!got) {
      const tags = await reg.tags(r.repository).catch(() => undefined);
      if (!tags || tags.length === 0)
        throw new ChartError(`chart not found: ${r.registry}/${r.repository} does not exist or holds no versions`);
      throw new ChartError(
        `version not found: ${r.registry}/${r.repository} has no version ${tagToVersion(reference)} (available: ${tags.slice(-10).join(', ')})`,
      );
    }
    const manifest = JSON.parse(got.bytes.toString('utf8')) as OciManifest;
    if (manifest.config?.mediaType !== HELM.config) {
      throw new ChartError(
        `${refString(r)} is not a Helm chart: its config media type is ${manifest.config?.mediaType ?? 'missing'}, not ${HELM.config}`,
      );
    }
    const chartLayer = manifest.layers.find((l) => l.mediaType === HELM.chart || l.mediaType === HELM.legacyChart);
    if (!chartLayer) throw new ChartError(`manifest does not contain a layer with mediatype ${HELM.chart}`);
    const blobs = new Map<string, Buffer>();
    blobs.set(manifest.config.digest, await reg.getBlob(r.repository, manifest.config.digest));
    blobs.set(chartLayer.digest, await reg.getBlob(r.repository, chartLayer.digest));
    const prov = manifest.layers.find((l) => l.mediaType === HELM.provenance);
    if (withProv && prov) blobs.set(prov.digest, await reg.getBlob(r.repository, prov.digest));
    if (chartLayer.mediaType === HELM.legacyChart) this.o.out(`Warning: chart media type ${HELM.legacyChart} is deprecated`);
    return { manifestBytes: got.bytes, digest: got.digest, manifest, blobs };
  }

  /** `helm chart pull <ref>` (Helm 3.5): into the local cache. */
  async pullToCache(rawRef: string): Promise<void> {
    const r = this.cacheRef(rawRef);
    const name = refString(r);
    const existing = this.o.cache.find(name);
    this.o.out(`${r.tag}: Pulling from ${r.registry}/${r.repository}`);
    const reg = this.registry(r.registry);
    let d: Awaited<ReturnType<typeof this.download>>;
    try {
      d = await this.download(reg, r);
    } finally {
      reg.close();
    }
    const chartLayer = d.manifest.layers.find((l) => l.mediaType === HELM.chart);
    if (!chartLayer || d.manifest.layers.length !== 1) {
      throw new ChartError(
        `${name} was pushed with layers Helm 3.5's cache cannot hold (${d.manifest.layers.map((l) => l.mediaType).join(', ')}): use berth chart pull oci://${r.registry}/${r.repository} --version ${tagToVersion(r.tag!)}`,
      );
    }
    for (const [, data] of d.blobs) this.o.cache.putBlob('', data);
    const desc = this.o.cache.putBlob(OCI_MANIFEST, d.manifestBytes);
    this.o.cache.addReference(name, desc);
    const e = this.fetch(name)!;
    this.summary(e);
    this.o.out(
      existing && existing.digest === desc.digest
        ? `Status: Chart is up to date for ${name}`
        : `Status: Downloaded newer chart for ${name}`,
    );
  }

  /** `helm chart export <ref> -d <dir>` */
  async export(rawRef: string, dest: string): Promise<void> {
    const r = this.cacheRef(rawRef);
    const e = this.fetch(refString(r));
    if (!e) throw new ChartError(`Chart not found: ${refString(r)} (pull it first: berth chart pull ${refString(r)})`);
    this.summary(e);
    const dir = await saveChartDir(e.chart, dest);
    this.o.out(`Exported chart to ${dir}/`);
  }

  // ---------------------------------------------------------------- Helm 3.8+: archives and oci:// URLs

  /** `helm package <dir> -d <dest>` */
  async package(dir: string, dest: string): Promise<string> {
    const chart = loadChartDir(dir);
    mkdirSync(dest, { recursive: true });
    const file = path.resolve(dest, archiveName(chart.metadata));
    writeFileSync(file, await packageChart(chart));
    this.o.out(`Successfully packaged chart and saved it to: ${file}`);
    return file;
  }

  /** `helm push <chart.tgz> oci://host/path`: config, chart layer (+ .prov next to it), annotated manifest. */
  async pushPackage(file: string, remote: string): Promise<void> {
    if (!remote.startsWith('oci://')) throw new ChartError(`scheme prefix missing from remote (e.g. "oci://"): ${remote}`);
    let data: Buffer;
    let mtime: Date;
    try {
      data = readFileSync(file);
      mtime = statSync(file).mtime;
    } catch {
      throw new ChartError(`chart archive ${file} not found (make one with berth chart package <dir>)`);
    }
    const chart = loadChartArchive(data);
    const md = chart.metadata;
    const base = remote.replace(/^oci:\/\//, '').replace(/\/+$/, '');
    const r = parseRef(`${base}/${md.name}:${md.version}`);
    const reg = this.registry(r.registry);
    try {
      const configBytes = metadataConfigJson(md);
      const chartDesc: Descriptor = { mediaType: HELM.chart, digest: await reg.pushBlob(r.repository, data), size: data.length };
      const configDesc: Descriptor = {
        mediaType: HELM.config,
        digest: await reg.pushBlob(r.repository, configBytes),
        size: configBytes.length,
      };
      const layers = [chartDesc];
      const provFile = `${file}.prov`;
      if (existsSync(provFile)) {
        const prov = readFileSync(provFile);
        layers.push({ mediaType: HELM.provenance, digest: await reg.pushBlob(r.repository, prov), size: prov.length });
        layers.sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
      }
      const manifest = manifestJson(configDesc, layers, chartAnnotations(md, rfc3339(mtime)));
      const digest = await reg.putManifest(r.repository, r.tag!, manifest, OCI_MANIFEST);
      this.o.out(`Pushed: ${refString(r)}`);
      this.o.out(`Digest: ${digest}`);
    } finally {
      reg.close();
    }
  }

  /** `helm pull oci://host/path/name [--version <version or constraint>] [-d dest]` */
  async pullPackage(remote: string, version: string | undefined, dest: string, withProv = false): Promise<string> {
    const r = parseRef(remote);
    const reg = this.registry(r.registry);
    try {
      if (version && r.tag && tagToVersion(r.tag) !== version && r.tag !== version) {
        throw new ChartError(`chart reference and version mismatch: ${version} is not ${tagToVersion(r.tag)}`);
      }
      const wanted = version ?? (r.tag ? tagToVersion(r.tag) : '');
      let tag: string | undefined;
      if (!r.digest || wanted) {
        // Helm: a version Masterminds/semver can parse is a tag; anything else is a constraint over the tags.
        if (wanted && LOOSE_SEMVER.test(wanted)) tag = versionToTag(wanted);
        else {
          const tags = await reg.tags(r.repository);
          if (!tags || tags.length === 0)
            throw new ChartError(`chart not found: unable to locate any tags in provided repository: oci://${r.registry}/${r.repository}`);
          const found = matchVersion(tags, wanted);
          if (!found) {
            const avail = tags
              .map(tagToVersion)
              .filter((v) => semver.valid(v))
              .sort(semver.rcompare)
              .slice(0, 10);
            throw new ChartError(
              `version not found: could not locate a version matching provided version string ${wanted} in oci://${r.registry}/${r.repository} (available: ${avail.join(', ') || 'none'})`,
            );
          }
          tag = versionToTag(found);
        }
      }
      const ref: ChartRef = { ...r, tag, digest: tag ? undefined : r.digest };
      const d = await this.download(reg, ref, withProv);
      const chartLayer = d.manifest.layers.find((l) => l.mediaType === HELM.chart || l.mediaType === HELM.legacyChart)!;
      const meta = validateMetadata(
        metadataFrom(JSON.parse(d.blobs.get(d.manifest.config.digest)!.toString('utf8')) as Record<string, unknown>),
      );
      mkdirSync(dest, { recursive: true });
      const file = path.join(dest, `${r.repository.split('/').pop()}-${tag ?? meta.version}.tgz`);
      writeFileSync(file, d.blobs.get(chartLayer.digest)!);
      const prov = d.manifest.layers.find((l) => l.mediaType === HELM.provenance);
      if (withProv && prov) writeFileSync(`${file}.prov`, d.blobs.get(prov.digest)!);
      this.o.out(`Pulled: ${refString(ref)}`);
      this.o.out(`Digest: ${d.digest}`);
      return file;
    } finally {
      reg.close();
    }
  }
}
