// What a repository holds beyond images, for the REST API: chart versions with their Chart.yaml metadata
// (read from the config blob), artifact types and annotations, and each manifest's referrers grouped by type.
import { readSmallBlob } from '../storage/read-blob.js';
import { classifyManifest, HELM } from '../oci/manifest-kind.js';
import { requireDigest } from '../oci/digest.js';
import { AccountError } from './accounts/errors.js';
import type { ServiceContext } from './context.js';
import { apiRepositoryId } from './repositories.js';
import { activeTag } from './tag-expiry.js';

const MAX_CONFIG_BYTES = 1024 * 1024;
const CHART_FIELDS = [
  'name',
  'version',
  'appVersion',
  'description',
  'keywords',
  'maintainers',
  'dependencies',
  'home',
  'sources',
  'icon',
  'apiVersion',
  'type',
  'kubeVersion',
  'deprecated',
  'annotations',
] as const;

interface Platform {
  os?: string;
  architecture?: string;
  variant?: string;
}

interface ManifestDoc {
  mediaType?: string;
  artifactType?: string;
  config?: { mediaType: string; digest: string; size: number };
  layers?: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
  manifests?: { mediaType: string; digest: string; size: number; platform?: Platform }[];
  subject?: { digest: string };
  annotations?: Record<string, string>;
}

export interface ChartVersionView {
  tags: string[];
  digest: string;
  created: string;
  name?: string;
  version?: string;
  appVersion?: string;
  description?: string;
  keywords?: string[];
  maintainers?: unknown[];
  dependencies?: unknown[];
  [k: string]: unknown;
}

export class ArtifactService {
  constructor(private readonly ctx: ServiceContext) {}

  private repoId(repository: string): Promise<number> {
    return apiRepositoryId(this.ctx.db, repository);
  }

  /** Whether the repository holds a manifest with this digest. */
  async hasManifest(repository: string, digest: string): Promise<boolean> {
    const id = await this.repoId(repository);
    return !!(await this.ctx.db
      .selectFrom('manifest')
      .select('id')
      .where('repository_id', '=', id)
      .where('digest', '=', digest)
      .executeTakeFirst());
  }

  /** A config blob as JSON (at most MAX_CONFIG_BYTES); undefined when too large or unreadable. */
  private async configJson(config: { digest: string; size: number }): Promise<Record<string, unknown> | undefined> {
    if (config.size > MAX_CONFIG_BYTES) return undefined;
    try {
      const doc = JSON.parse(
        (await readSmallBlob(this.ctx.store, config.digest, MAX_CONFIG_BYTES, config.size)).toString('utf8'),
      ) as unknown;
      return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  }

  /** The one chart-metadata reader: the Chart.yaml fields of a chart's config blob (the documented ones; unreadable configs give {}). */
  private async chartMetadata(config: { digest: string; size: number }): Promise<Record<string, unknown>> {
    const doc = await this.configJson(config);
    const out: Record<string, unknown> = {};
    if (doc) for (const k of CHART_FIELDS) if (doc[k] !== undefined) out[k] = doc[k];
    return out;
  }

  /** Every chart version in a repository (one entry per manifest, with its tags), newest push first. */
  async charts(repository: string): Promise<{ charts: ChartVersionView[] }> {
    const id = await this.repoId(repository);
    const rows = await this.ctx.db
      .selectFrom('manifest')
      .leftJoin('tag', (j) => j.onRef('tag.manifest_id', '=', 'manifest.id').on(activeTag(this.ctx.now())))
      .select(['manifest.id', 'manifest.digest', 'manifest.content', 'manifest.created_at', 'tag.name as tag'])
      .where('manifest.repository_id', '=', id)
      .where('manifest.artifact_type', '=', HELM.config)
      .orderBy('manifest.created_at', 'desc')
      .orderBy('manifest.id', 'desc')
      .orderBy('tag.name')
      .execute();
    const byId = new Map<number, ChartVersionView & { _doc: ManifestDoc }>();
    for (const r of rows) {
      let v = byId.get(r.id);
      if (!v) {
        const doc = JSON.parse(Buffer.from(r.content).toString('utf8')) as ManifestDoc;
        v = { tags: [], digest: r.digest, created: new Date(r.created_at).toISOString(), _doc: doc };
        byId.set(r.id, v);
      }
      if (r.tag) v.tags.push(r.tag);
    }
    const charts: ChartVersionView[] = [];
    for (const v of byId.values()) {
      const { _doc: doc, ...rest } = v;
      const meta = doc.config ? await this.chartMetadata(doc.config) : {};
      const layers = (doc.layers ?? []).map((l) => l.mediaType);
      charts.push({
        ...meta,
        ...rest,
        chart_layer: layers.find((l) => l === HELM.chart || l === HELM.legacyChart) ?? null,
        provenance: layers.includes(HELM.provenance),
        annotations_oci: doc.annotations ?? {},
      });
    }
    return { charts };
  }

  /** One manifest (Quay's fields), what kind of artifact it is, and its referrers grouped by artifact type. */
  async manifest(repository: string, digest: string): Promise<Record<string, unknown>> {
    try {
      requireDigest(digest);
    } catch {
      throw new AccountError('invalid', `"${digest.slice(0, 100)}" is not a valid digest`);
    }
    const id = await this.repoId(repository);
    const row = await this.ctx.db
      .selectFrom('manifest')
      .select(['id', 'digest', 'media_type', 'artifact_type', 'size', 'content', 'created_at'])
      .where('repository_id', '=', id)
      .where('digest', '=', digest)
      .executeTakeFirst();
    if (!row) throw new AccountError('not_found', `manifest ${digest} is not in repository "${repository}"`);
    const doc = JSON.parse(Buffer.from(row.content).toString('utf8')) as ManifestDoc;
    const tags = (
      await this.ctx.db
        .selectFrom('tag')
        .select('name')
        .where('manifest_id', '=', row.id)
        .where(activeTag(this.ctx.now()))
        .orderBy('name')
        .execute()
    ).map((t) => t.name);
    const kind = classifyManifest({ ...doc, mediaType: row.media_type });
    const isIndex = kind === 'index';
    const configType = doc.config?.mediaType ?? null;
    const artifact: Record<string, unknown> = {
      kind,
      artifact_type: row.artifact_type,
      config_media_type: configType,
      annotations: doc.annotations ?? {},
      layers: (doc.layers ?? []).map((l) => ({
        media_type: l.mediaType,
        digest: l.digest,
        size: l.size,
        annotations: l.annotations ?? {},
      })),
    };
    if (doc.subject) artifact.subject = doc.subject.digest;
    if (kind === 'helm-chart' && doc.config) artifact.chart = await this.chartMetadata(doc.config);
    if (isIndex)
      artifact.manifests = (doc.manifests ?? []).map((m) => ({
        media_type: m.mediaType,
        digest: m.digest,
        size: m.size,
        platform: m.platform ?? null,
      }));
    return {
      digest: row.digest,
      media_type: row.media_type,
      size: row.size,
      created: new Date(row.created_at).toISOString(),
      tags,
      is_manifest_list: isIndex,
      manifest_data: Buffer.from(row.content).toString('utf8'),
      config_media_type: configType,
      artifact,
      referrers: await this.referrers(id, row.digest),
    };
  }

  /**
   * Per manifest, what the web UI's lists show: kind (image, index, helm-chart, artifact), platforms, total size
   * (the manifest, its config and layers; an index adds its children), and a chart's metadata.
   */
  async summaries(repository: string, digests: string[]): Promise<Record<string, unknown>> {
    const id = await this.repoId(repository);
    const rows = digests.length
      ? await this.ctx.db
          .selectFrom('manifest')
          .select(['digest', 'media_type', 'size', 'content'])
          .where('repository_id', '=', id)
          .where('digest', 'in', digests)
          .execute()
      : [];
    const manifests: Record<string, unknown> = {};
    for (const r of rows) {
      const doc = parseDoc(r.content);
      const kind = classifyManifest({ ...doc, mediaType: r.media_type });
      if (kind === 'index') {
        const children = await this.ctx.db
          .selectFrom('manifest')
          .select(['digest', 'content', 'size'])
          .where('repository_id', '=', id)
          .where('digest', 'in', (doc.manifests ?? []).map((m) => m.digest).concat(['-']))
          .execute();
        const size = children.reduce((a, c) => a + ownSize(Number(c.size), parseDoc(c.content)), Number(r.size));
        manifests[r.digest] = {
          digest: r.digest,
          media_type: r.media_type,
          kind,
          size,
          platforms: (doc.manifests ?? []).map((m) => ({
            digest: m.digest,
            os: m.platform?.os ?? null,
            architecture: m.platform?.architecture ?? null,
            variant: m.platform?.variant ?? null,
          })),
        };
        continue;
      }
      const out: Record<string, unknown> = {
        digest: r.digest,
        media_type: r.media_type,
        kind,
        size: ownSize(Number(r.size), doc),
        config_media_type: doc.config?.mediaType ?? null,
        artifact_type: doc.artifactType ?? null,
      };
      if (kind === 'helm-chart' && doc.config) out.chart = await this.chartMetadata(doc.config);
      if (kind === 'image' && doc.config) {
        const c = await this.configJson(doc.config);
        if (c) out.platforms = [{ digest: r.digest, os: str(c.os), architecture: str(c.architecture), variant: str(c.variant) }];
      }
      manifests[r.digest] = out;
    }
    return manifests;
  }

  /** Manifests whose subject is this digest (OCI 1.1), plus cosign's tag scheme (sha256-<hex>.sig/.att/.sbom). */
  private async referrers(repositoryId: number, digest: string): Promise<Record<string, unknown[]>> {
    const grouped: Record<string, unknown[]> = {};
    const rows = await this.ctx.db
      .selectFrom('manifest')
      .select(['digest', 'media_type', 'artifact_type', 'size', 'annotations', 'created_at'])
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', digest)
      .orderBy('id')
      .execute();
    for (const r of rows) {
      const t = r.artifact_type ?? 'unknown';
      grouped[t] ??= [];
      grouped[t].push({
        digest: r.digest,
        media_type: r.media_type,
        size: r.size,
        annotations: r.annotations ? JSON.parse(r.annotations) : {},
        created: new Date(r.created_at).toISOString(),
      });
    }
    const prefix = `${digest.replace(':', '-')}.`;
    const tagged = await this.ctx.db
      .selectFrom('tag')
      .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
      .select(['tag.name', 'manifest.digest', 'manifest.media_type', 'manifest.size', 'manifest.created_at'])
      .where('tag.repository_id', '=', repositoryId)
      .where(activeTag(this.ctx.now()))
      .where(
        'tag.name',
        'in',
        ['sig', 'att', 'sbom'].map((s) => prefix + s),
      )
      .execute();
    const names: Record<string, string> = {
      sig: 'application/vnd.dev.cosign.simplesigning.v1+json',
      att: 'application/vnd.dsse.envelope.v1+json',
      sbom: 'application/vnd.dev.cosign.artifact.sbom.v1+json',
    };
    for (const t of tagged) {
      const type = names[t.name.slice(prefix.length)];
      if (rows.some((r) => r.digest === t.digest)) continue;
      grouped[type] ??= [];
      grouped[type].push({
        digest: t.digest,
        media_type: t.media_type,
        size: t.size,
        tag: t.name,
        created: new Date(t.created_at).toISOString(),
      });
    }
    return grouped;
  }
}

function parseDoc(content: Uint8Array): ManifestDoc {
  try {
    return JSON.parse(Buffer.from(content).toString('utf8')) as ManifestDoc;
  } catch {
    return {}; // stored manifests are valid JSON
  }
}

/** A manifest's own size plus its config and layers. */
function ownSize(size: number, doc: ManifestDoc): number {
  return size + (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((a, l) => a + (l.size ?? 0), 0);
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
