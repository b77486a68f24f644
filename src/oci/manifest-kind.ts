// What a manifest is: the one classifier (pure). The artifact policy, the REST API's manifest view and
// summaries, the tag list and the scanner all ask here, so they never disagree about a manifest.
import { isIndexType } from './mediatypes.js';

export const HELM = {
  config: 'application/vnd.cncf.helm.config.v1+json',
  chart: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip',
  legacyChart: 'application/tar+gzip',
  provenance: 'application/vnd.cncf.helm.chart.provenance.v1.prov',
} as const;

/** Config media types of container images. */
export const IMAGE_CONFIG_TYPES: readonly string[] = [
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
];

/** Layer media types of container images (filesystem changesets the scanner can read). */
export const IMAGE_LAYER_TYPES: readonly string[] = [
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
];

/**
 * index: an OCI index or Docker manifest list. helm-chart: Helm's config media type. image: an image config,
 * no artifactType, and only image layers (none is fine). artifact: everything else (cosign signatures, SBOMs,
 * OCI 1.1 artifacts, an image config with an artifactType or with non-image layers).
 */
export type ManifestKind = 'index' | 'image' | 'helm-chart' | 'artifact';

/** The fields the kind depends on: a parsed manifest (oci/manifest.ts) or a stored document both fit. */
export interface ManifestShape {
  mediaType?: string;
  artifactType?: string;
  config?: { mediaType: string };
  layers?: readonly { mediaType: string }[];
  manifests?: readonly unknown[];
}

export function classifyManifest(m: ManifestShape): ManifestKind {
  if ((m.mediaType !== undefined && isIndexType(m.mediaType)) || (Array.isArray(m.manifests) && !m.config)) return 'index';
  const config = m.config?.mediaType;
  if (config === HELM.config) return 'helm-chart';
  if (
    config !== undefined &&
    IMAGE_CONFIG_TYPES.includes(config) &&
    !m.artifactType &&
    (m.layers ?? []).every((l) => IMAGE_LAYER_TYPES.includes(l.mediaType))
  )
    return 'image';
  return 'artifact';
}
