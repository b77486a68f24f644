// Indexing: what "scan this manifest" means. A manifest the classifier (oci/manifest-kind.ts) calls an image
// is indexed layer by layer (blob store first, else the layer URI over HTTP, as Clair does), reusing per-layer
// results; an index queues its children; anything else is "unsupported" with the reason. An image whose
// layers hold no recognisable packages is "unsupported" too, never "no vulnerabilities".
import { PassThrough, Readable } from 'node:stream';
import type { BlobStore } from '../storage/blobstore.js';
import { parseManifest } from '../oci/manifest.js';
import { classifyManifest } from '../oci/manifest-kind.js';
import { indexLayers, type LayerResult } from './indexer/index.js';
import type { ClairManifest, StoredIndex } from './clair.js';
import type { ReportStore } from './report-store.js';
import type { MatchService } from './matching.js';
import type { RemoteScanner } from './remote.js';

/** A job that no retry can fix (the manifest is gone, a layer has no source). */
export class PermanentScanError extends Error {}

export type IndexOutcome = { state: 'indexed' } | { state: 'unsupported'; reason: string };

/** An external Clair-compatible scanner and how it reaches Berth's blobs (`${registryUrl}/v2/<repository>/blobs/<digest>`). */
export interface RemoteIndexing {
  scanner: RemoteScanner;
  registryUrl: string;
  layerHeaders?: (repository: string) => Promise<Record<string, string[]>>;
}

/** What `Indexer.readAhead` read for a batch of jobs: their manifests and their layers' cached results. */
export interface ReadAhead {
  manifests: Map<string, { content: Uint8Array; mediaType: string; repository: string } | undefined>;
  layers: Map<string, LayerResult | null>;
}

export class Indexer {
  constructor(
    private readonly reports: ReportStore,
    private readonly matcher: MatchService,
    private readonly opts: {
      now: () => number;
      blobs?: BlobStore;
      tmpDir?: string;
      remote?: RemoteIndexing;
      /** Queues a manifest (an index's children). */
      enqueue: (digest: string, repository: string) => Promise<unknown>;
      /** Called after a manifest was indexed with packages (its first match). */
      indexed: (digest: string) => Promise<unknown>;
    },
  ) {}

  /**
   * A claimed batch's manifests and their layers' cached results, in two statements rather than two per job; what
   * `indexStored` then takes instead of reading them itself.
   */
  async readAhead(jobs: readonly { digest: string; repository: string }[]): Promise<ReadAhead> {
    const manifests = await this.reports.manifests(jobs);
    const layers = new Set<string>();
    if (!this.opts.remote) {
      for (const row of manifests.values()) {
        if (!row) continue;
        try {
          const m = parseManifest(row.content, row.mediaType);
          if (classifyManifest(m) === 'image') for (const l of m.layers) layers.add(l.digest);
        } catch {
          // indexStored reports it, job by job
        }
      }
    }
    return { manifests, layers: await this.reports.layerResults([...layers]) };
  }

  /** Indexes a manifest stored in Berth's database (the job handler); `ahead`: what `readAhead` read for its batch. */
  async indexStored(digest: string, repository: string, ahead?: ReadAhead): Promise<IndexOutcome> {
    const row = ahead?.manifests.has(digest) ? ahead.manifests.get(digest) : await this.reports.manifest(digest, repository);
    if (!row) throw new PermanentScanError(`manifest ${digest} is no longer stored`);
    const m = parseManifest(row.content, row.mediaType);
    const unsupported = async (reason: string) => {
      await this.save({ manifest: digest, state: 'unsupported', reason, layers: [], packages: [] });
      return { state: 'unsupported' as const, reason };
    };
    const kind = classifyManifest(m);
    if (kind === 'index') {
      // Quay reports an index (manifest list) as unsupported; each platform manifest is scanned.
      for (const child of m.manifests) await this.opts.enqueue(child.digest, row.repository);
      return unsupported(`an image index: each of its ${m.manifests.length} manifests is scanned on its own`);
    }
    if (kind !== 'image') {
      return unsupported(
        `not a container image but ${kind === 'helm-chart' ? 'a Helm chart' : 'an artifact'} (config media type ${m.config?.mediaType ?? 'none'}${m.artifactType ? `, artifact type ${m.artifactType}` : ''})`,
      );
    }
    const layers = m.layers;
    if (!layers.length) return unsupported('the image has no layers');
    if (this.opts.remote)
      return this.indexRemote(
        digest,
        row.repository,
        layers.map((l) => l.digest),
      );
    const stored = await this.indexManifest({ hash: digest, layers: layers.map((l) => ({ hash: l.digest })) }, ahead?.layers);
    return stored.state === 'indexed'
      ? { state: 'indexed' }
      : { state: 'unsupported', reason: stored.reason ?? 'no recognisable packages' };
  }

  /** Sends the manifest to the external scanner; its answer decides indexed or unsupported. */
  private async indexRemote(digest: string, repository: string, layers: string[]): Promise<IndexOutcome> {
    const { scanner, registryUrl, layerHeaders } = this.opts.remote!;
    const headers = (await layerHeaders?.(repository)) ?? {};
    const report = await scanner.index({
      hash: digest,
      layers: layers.map((d) => ({ hash: d, uri: `${registryUrl.replace(/\/$/, '')}/v2/${repository}/blobs/${d}`, headers })),
    });
    if (!report.success && report.err) throw new Error(`external scanner: ${report.err}`);
    const empty = Object.keys(report.packages ?? {}).length === 0;
    const stored: StoredIndex = empty
      ? { manifest: digest, state: 'unsupported', reason: 'the external scanner found no packages', layers, packages: [] }
      : { manifest: digest, state: 'indexed', layers, packages: [] };
    await this.save(stored);
    return stored.state === 'indexed' ? { state: 'indexed' } : { state: 'unsupported', reason: stored.reason! };
  }

  /**
   * Indexes a manifest given as Clair's Manifest: each layer from the blob store when present,
   * else from its URI (with its headers). Stores and returns the result.
   */
  async indexManifest(m: ClairManifest, knownLayers?: Map<string, LayerResult | null>): Promise<StoredIndex> {
    const digests = m.layers.map((l) => l.hash);
    const sources: Array<() => Readable> = [];
    const { blobs } = this.opts;
    for (const l of m.layers) {
      const local = blobs ? await blobs.stat(l.hash) : null;
      // The stored size as the range: a read sized to the layer (a small layer is not read through a 1 MiB
      // buffer, and the end needs no extra read).
      const range = local && local.size > 0 ? { start: 0, end: local.size - 1 } : undefined;
      if (blobs && local) sources.push(() => blobs.read(l.hash, range));
      else if (l.uri) sources.push(() => fetchLayer(l.uri!, l.headers ?? {}));
      else throw new PermanentScanError(`layer ${l.hash} is not in blob storage and has no URI`);
    }
    const cache = this.reports.layerCache(this.opts.now, knownLayers);
    const r = await indexLayers(sources, { digests, cache, ...(this.opts.tmpDir ? { tmpDir: this.opts.tmpDir } : {}) });
    const stored: StoredIndex = r.packages.length
      ? {
          manifest: m.hash,
          state: 'indexed',
          layers: digests,
          ...(r.distribution ? { distribution: r.distribution } : {}),
          packages: r.packages,
        }
      : {
          manifest: m.hash,
          state: 'unsupported',
          layers: digests,
          ...(r.distribution ? { distribution: r.distribution } : {}),
          packages: [],
          reason: r.distribution
            ? `no installed packages found (distribution ${r.distribution.id} detected)`
            : 'no recognisable packages or distribution in any layer',
        };
    await this.save(stored);
    if (stored.state === 'indexed') await this.opts.indexed(m.hash);
    return stored;
  }

  private async save(s: StoredIndex): Promise<void> {
    await this.reports.save(s, this.opts.now());
    this.matcher.forget(s.manifest);
  }
}

/** Streams a layer from its URI (the way Clair fetches layers Quay names). */
function fetchLayer(uri: string, headers: Record<string, string[]>): Readable {
  const out = new PassThrough();
  const h = new Headers();
  for (const [k, vs] of Object.entries(headers)) for (const v of vs) h.append(k, v);
  fetch(uri, { headers: h, redirect: 'follow' }).then(
    (res) => {
      if (!res.ok || !res.body) {
        out.destroy(new Error(`fetching layer ${uri.split('?')[0]}: HTTP ${res.status}`));
        return;
      }
      const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      body.on('error', (e) => out.destroy(e));
      body.pipe(out);
    },
    (e: Error) => out.destroy(new Error(`fetching layer ${uri.split('?')[0]}: ${e.message}`)),
  );
  return out;
}
