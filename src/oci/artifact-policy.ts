// Which manifests a registry accepts: images always; Helm charts and other OCI artifacts by switch and allow-list.
// Pure: given a parsed manifest, decide accept or refuse (with a message naming the media type and the config key).
import type { ParsedManifest } from './manifest.js';
import { MT } from './mediatypes.js';
import { classifyManifest, HELM, IMAGE_CONFIG_TYPES, IMAGE_LAYER_TYPES } from './manifest-kind.js';

export { HELM, IMAGE_CONFIG_TYPES, IMAGE_LAYER_TYPES } from './manifest-kind.js';

/** Layer types of signatures, attestations and SBOMs attached to images (cosign, in-toto, syft, trivy). */
const SUPPLY_CHAIN_LAYERS = [
  'application/vnd.dev.cosign.simplesigning.v1+json',
  'application/vnd.dsse.envelope.v1+json',
  'application/vnd.in-toto+json',
  'application/spdx+json',
  'text/spdx',
  'text/spdx+json',
  'text/spdx+xml',
  'application/vnd.cyclonedx',
  'application/vnd.cyclonedx+json',
  'application/vnd.cyclonedx+xml',
  'application/vnd.dev.sigstore.bundle.v0.3+json',
  'application/vnd.dev.sigstore.bundle+json;version=0.3',
];

/** Any layer media type (in an allow-list entry). */
export const ANY_LAYER = '*';
/** Any config media type not listed (as an allow-list key). */
export const ANY_CONFIG = '*';

/**
 * The default ALLOWED_OCI_ARTIFACT_TYPES: config media type (or, for OCI 1.1 artifacts, artifactType) ->
 * the layer media types allowed with it. A config entry of ALLOWED_OCI_ARTIFACT_TYPES replaces the default
 * entry of the same key; `null` removes it.
 */
export const DEFAULT_ALLOWED_ARTIFACT_TYPES: Readonly<Record<string, readonly string[]>> = {
  [HELM.config]: [HELM.chart, HELM.legacyChart, HELM.provenance],
  // cosign signatures, attestations and attached SBOMs use the image config with their own layers.
  'application/vnd.oci.image.config.v1+json': SUPPLY_CHAIN_LAYERS,
  'application/vnd.dev.cosign.artifact.sig.v1+json': SUPPLY_CHAIN_LAYERS,
  'application/vnd.dev.cosign.artifact.sbom.v1+json': SUPPLY_CHAIN_LAYERS,
  'application/vnd.dev.sigstore.bundle.v0.3+json': SUPPLY_CHAIN_LAYERS,
  'application/vnd.in-toto+json': SUPPLY_CHAIN_LAYERS,
  'application/vnd.dsse.envelope.v1+json': SUPPLY_CHAIN_LAYERS,
  'application/spdx+json': SUPPLY_CHAIN_LAYERS,
  'text/spdx': SUPPLY_CHAIN_LAYERS,
  'application/vnd.cyclonedx+json': SUPPLY_CHAIN_LAYERS,
  'application/vnd.cyclonedx': SUPPLY_CHAIN_LAYERS,
  // OPA / Open Policy Agent bundles (as `opa`, conftest and policy controllers push them).
  'application/vnd.cncf.openpolicyagent.config.v1+json': [
    'application/vnd.cncf.openpolicyagent.policy.layer.v1+rego',
    'application/vnd.cncf.openpolicyagent.data.layer.v1+json',
    'application/vnd.cncf.openpolicyagent.manifest.layer.v1+json',
    'application/vnd.cncf.openpolicyagent.bundle.layer.v1+tar+gzip',
    'application/vnd.oci.image.layer.v1.tar+gzip',
  ],
  // OCI 1.1 artifacts: the empty config with an artifactType, any layers.
  [MT.ociEmpty]: [ANY_LAYER],
};

export interface ArtifactPolicyOptions {
  /** FEATURE_GENERAL_OCI_SUPPORT: accept artifacts other than images and Helm charts. */
  generalOci: boolean;
  /** FEATURE_HELM_OCI_SUPPORT: accept Helm charts. */
  helmOci: boolean;
  /** The effective allow-list (defaults merged with ALLOWED_OCI_ARTIFACT_TYPES). */
  allowed: Record<string, readonly string[]>;
  /**
   * True when the administrator set ALLOWED_OCI_ARTIFACT_TYPES: only artifacts the effective list names pass.
   * False (the default): every well-formed artifact passes, whatever its config media type.
   */
  restricted: boolean;
}

export type ArtifactDecision =
  | { accept: true; kind: 'image' | 'index' | 'helm' | 'artifact' }
  | { accept: false; message: string; mediaType: string; configKey: string };

/** Merges the configured ALLOWED_OCI_ARTIFACT_TYPES over the defaults (an entry replaces its key; null removes it). */
export function buildArtifactPolicy(opts: {
  generalOci?: boolean;
  helmOci?: boolean;
  allowed?: Record<string, readonly string[] | null>;
}): ArtifactPolicyOptions {
  const allowed: Record<string, readonly string[]> = { ...DEFAULT_ALLOWED_ARTIFACT_TYPES };
  for (const [k, v] of Object.entries(opts.allowed ?? {})) {
    if (v === null) delete allowed[k];
    else allowed[k] = v;
  }
  return { generalOci: opts.generalOci ?? true, helmOci: opts.helmOci ?? true, allowed, restricted: opts.allowed !== undefined };
}

const refuse = (message: string, mediaType: string, configKey: string): ArtifactDecision => ({
  accept: false,
  message,
  mediaType,
  configKey,
});

/** Decides whether a manifest is accepted. Indexes are accepted (each child manifest was decided on its own). */
export function decideArtifact(m: ParsedManifest, policy: ArtifactPolicyOptions): ArtifactDecision {
  const kind = classifyManifest(m);
  if (kind === 'index' || kind === 'image') return { accept: true, kind };
  const config = m.config!.mediaType;
  const layers = m.layers.map((l) => l.mediaType);
  const isHelm = config === HELM.config;
  if (isHelm && !policy.helmOci) {
    return refuse(
      `Helm charts (config media type ${config}) are not accepted by this registry: set FEATURE_HELM_OCI_SUPPORT: true in its config to allow them`,
      config,
      'FEATURE_HELM_OCI_SUPPORT',
    );
  }
  if (!isHelm && !policy.generalOci) {
    const what = m.artifactType ? `artifact type ${m.artifactType}` : `config media type ${config}`;
    return refuse(
      `OCI artifacts (${what}) are not accepted by this registry: set FEATURE_GENERAL_OCI_SUPPORT: true in its config to allow them`,
      m.artifactType ?? config,
      'FEATURE_GENERAL_OCI_SUPPORT',
    );
  }
  if (config === MT.ociEmpty && !m.artifactType) {
    return refuse(`a manifest with the empty config (${MT.ociEmpty}) must set "artifactType" (OCI image spec 1.1)`, config, 'artifactType');
  }
  // Without ALLOWED_OCI_ARTIFACT_TYPES every well-formed artifact passes (as in Quay, zot and distribution);
  // Helm charts keep their own layer rules (a chart with a foreign layer is not a chart).
  if (!policy.restricted && !isHelm) return { accept: true, kind: 'artifact' };
  // An OCI 1.1 artifact is keyed by its artifactType when the allow-list names it, else by its config type.
  // "*" as a key: any config type not listed (for example `'*': ['*']` accepts every artifact).
  const key = m.artifactType && policy.allowed[m.artifactType] ? m.artifactType : policy.allowed[config] ? config : ANY_CONFIG;
  const allowed = policy.allowed[key];
  if (!allowed) {
    return refuse(
      `config media type ${config} is not an allowed OCI artifact type: add "${config}" with its layer media types to ALLOWED_OCI_ARTIFACT_TYPES in the registry config`,
      config,
      'ALLOWED_OCI_ARTIFACT_TYPES',
    );
  }
  const imageConfig = IMAGE_CONFIG_TYPES.includes(config);
  for (const l of layers) {
    if (allowed.includes(ANY_LAYER) || allowed.includes(l) || (imageConfig && IMAGE_LAYER_TYPES.includes(l))) continue;
    return refuse(
      `layer media type ${l} is not allowed with ${key === m.artifactType ? 'artifact type' : 'config media type'} ${key === ANY_CONFIG ? config : key}: add it to ALLOWED_OCI_ARTIFACT_TYPES["${key}"] in the registry config`,
      l,
      `ALLOWED_OCI_ARTIFACT_TYPES["${key}"]`,
    );
  }
  return { accept: true, kind: isHelm ? 'helm' : 'artifact' };
}
