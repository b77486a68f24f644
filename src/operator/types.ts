// The BerthRegistry custom resource (registry.berth.dev/v1) and the shapes the reconcile core works on.
// deploy/kubernetes/operator/crd.yaml is the schema the API server enforces; these types mirror it.

export const GROUP = 'registry.berth.dev';
export const VERSION = 'v1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'BerthRegistry';
export const PLURAL = 'berthregistries';
export const FIELD_MANAGER = 'berth-operator';
/** Annotation on Berth's pod template: the SHA-256 of the effective config Secret, so a config change rolls the pods. */
export const CHECKSUM_ANNOTATION = 'registry.berth.dev/config-checksum';
/** Annotation on the managed TLS Secret: the names its server certificate covers (re-issued when they change). */
export const TLS_NAMES_ANNOTATION = 'registry.berth.dev/tls-names';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';

export const COMPONENT_KINDS = [
  'postgres',
  'redis',
  'objectstorage',
  'scanner',
  'monitoring',
  'tls',
  'ingress',
  'horizontalpodautoscaler',
] as const;
export type ComponentKind = (typeof COMPONENT_KINDS)[number];
/** `berth`: Berth's own Deployment (always managed; only its overrides count), as Quay's `quay` component. */
export type OverridableKind = ComponentKind | 'berth';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}
export interface Resources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

/** Where the air-gapped scanner's updater bundle comes from (exactly one). */
export interface AirgapBundleSource {
  secret?: { name: string; key: string };
  configMap?: { name: string; key: string };
  persistentVolumeClaim?: { claimName: string; path: string };
  url?: string;
}

export interface ComponentOverrides {
  replicas?: number;
  env?: EnvVar[];
  resources?: Resources;
  volumeSize?: string;
  /** objectstorage: the access mode of the storage PVC (ReadWriteMany unless the cluster cannot share volumes). */
  volumeAccessMode?: 'ReadWriteMany' | 'ReadWriteOnce';
  storageClassName?: string;
  /** scanner: no updater reaches the network; data comes from `airgapBundle` through an import Job. */
  airgap?: boolean;
  airgapBundle?: AirgapBundleSource;
  /** horizontalpodautoscaler */
  minReplicas?: number;
  maxReplicas?: number;
}

export interface ComponentSpec {
  kind: OverridableKind;
  managed: boolean;
  overrides?: ComponentOverrides;
}

export interface BerthRegistrySpec {
  configBundleSecret: string;
  components?: ComponentSpec[];
  fips?: boolean;
  /** Delete the managed PostgreSQL volume together with the BerthRegistry (default: keep it). */
  deleteDatabaseVolume?: boolean;
}

export interface Condition {
  type: 'Available' | 'ComponentsCreated' | 'RolloutBlocked';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface BerthRegistryStatus {
  conditions: Condition[];
  registryEndpoint?: string;
  currentVersion?: string;
  unhealthyComponents?: string[];
  configChecksum?: string;
  observedGeneration?: number;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  deletionTimestamp?: string;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface BerthRegistry {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: BerthRegistrySpec;
  status?: Partial<BerthRegistryStatus>;
}

/** Any Kubernetes object the core produces or reads. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}
