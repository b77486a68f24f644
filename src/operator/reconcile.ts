// The reconcile core: a PURE function. BerthRegistry + config bundle + observed objects (+ values the runner
// generated once) in; the objects that should exist and the status out. No I/O, no clock but `now`.
import { validateConfig } from '../config/load.js';
import * as C from './components.js';
import { checkBundle, readBundle, BUNDLE_TLS_CERT, BUNDLE_TLS_KEY, type BundleProblem } from './bundle.js';
import {
  COMPONENT_KINDS,
  type BerthRegistry,
  type BerthRegistryStatus,
  type ComponentKind,
  type ComponentOverrides,
  type Condition,
  type K8sObject,
  type OverridableKind,
} from './types.js';

export interface ReconcileInput {
  registry: BerthRegistry;
  /** data of the Secret spec.configBundleSecret (base64 values), undefined when it does not exist. */
  bundleData: Record<string, string> | undefined;
  /** Objects read from the API, keyed `Kind/name` (only what the core looks at: workloads and the storage PVC). */
  observed: Record<string, K8sObject | undefined>;
  generated: C.Generated;
  assets: C.Assets;
  images: C.Images;
  /** Berth's version (the operator's own); the image tag of a release. */
  version: string;
  /** ISO time for new condition transitions. */
  now: string;
}

export interface ReconcileResult {
  /** What to apply (server-side apply). Empty when the rollout is blocked: nothing running changes. */
  objects: K8sObject[];
  /** True when the rollout is blocked: the runner applies nothing and deletes nothing. */
  blocked: boolean;
  status: BerthRegistryStatus;
}

export const observedKey = (kind: string, name: string) => `${kind}/${name}`;

/** Each component's managed flag and overrides (a kind left out is managed). */
export function componentsOf(r: BerthRegistry): {
  managed: (k: ComponentKind) => boolean;
  overrides: (k: OverridableKind) => ComponentOverrides | undefined;
} {
  const list = r.spec.components ?? [];
  return {
    managed: (k) => list.find((c) => c.kind === k)?.managed ?? true,
    overrides: (k) => list.find((c) => c.kind === k)?.overrides,
  };
}

interface Workload {
  component: string;
  kind: string;
  name: string;
}

/** Ready when the controller has seen the current generation and every wanted replica is updated and available. */
function workloadReady(o: K8sObject | undefined): { ready: boolean; detail: string } {
  if (!o) return { ready: false, detail: 'not created yet' };
  const spec = (o.spec ?? {}) as { replicas?: number };
  const st = (o.status ?? {}) as {
    observedGeneration?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
  };
  const want = spec.replicas ?? 1;
  const ready = o.kind === 'StatefulSet' ? (st.readyReplicas ?? 0) : (st.availableReplicas ?? 0);
  const current = (st.observedGeneration ?? 0) >= (o.metadata.generation ?? 0) && (st.updatedReplicas ?? 0) >= want;
  return { ready: ready >= want && want > 0 && current, detail: `${ready}/${want} ready${current ? '' : ', rollout in progress'}` };
}

function specProblems(r: BerthRegistry): BundleProblem[] {
  const problems: BundleProblem[] = [];
  const seen = new Set<string>();
  for (const c of r.spec.components ?? []) {
    if (seen.has(c.kind))
      problems.push({ reason: 'ConfigInvalid', message: `spec.components lists ${c.kind} twice: keep one entry per kind` });
    seen.add(c.kind);
    if (c.kind === 'berth' && c.managed === false)
      problems.push({
        reason: 'ConfigInvalid',
        message: 'spec.components: berth is always managed (its entry only carries overrides); set managed: true',
      });
    if (c.overrides?.airgap && c.kind !== 'scanner')
      problems.push({ reason: 'ConfigInvalid', message: `spec.components ${c.kind}: overrides.airgap applies to the scanner only` });
    if (c.overrides && c.managed === false && c.kind !== 'berth')
      problems.push({
        reason: 'ConfigInvalid',
        message: `spec.components ${c.kind}: overrides need managed: true (the operator does not run an unmanaged ${c.kind})`,
      });
  }
  const scanner = (r.spec.components ?? []).find((c) => c.kind === 'scanner');
  if (scanner?.overrides?.airgapBundle) {
    const b = scanner.overrides.airgapBundle;
    const n = [b.secret, b.configMap, b.persistentVolumeClaim, b.url].filter(Boolean).length;
    if (n !== 1)
      problems.push({
        reason: 'ConfigInvalid',
        message: `spec.components scanner: overrides.airgapBundle must name exactly one source (secret, configMap, persistentVolumeClaim or url), not ${n}`,
      });
    if (!scanner.overrides.airgap)
      problems.push({ reason: 'ConfigInvalid', message: 'spec.components scanner: overrides.airgapBundle needs overrides.airgap: true' });
  }
  return problems;
}

function condition(prev: Partial<BerthRegistryStatus> | undefined, c: Omit<Condition, 'lastTransitionTime'>, now: string): Condition {
  const old = prev?.conditions?.find((x) => x.type === c.type);
  return { ...c, lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : now };
}

export function reconcile(input: ReconcileInput): ReconcileResult {
  const { registry: r, now } = input;
  const gen = r.metadata.generation;
  const { managed, overrides } = componentsOf(r);
  const n = C.names(r);
  const prev = r.status;

  // Workloads that must be ready for the registry to be Available (only those the operator runs).
  const workloads: Workload[] = [{ component: 'berth', kind: 'Deployment', name: n.berth }];
  if (managed('postgres')) workloads.push({ component: 'postgres', kind: 'StatefulSet', name: n.postgres });
  if (managed('redis')) workloads.push({ component: 'redis', kind: 'Deployment', name: n.redis });
  if (managed('scanner')) workloads.push({ component: 'scanner', kind: 'Deployment', name: n.scanner });
  const health = workloads.map((w) => ({ ...w, ...workloadReady(input.observed[observedKey(w.kind, w.name)]) }));
  const unhealthy = health.filter((h) => !h.ready);
  const berthDeployment = input.observed[observedKey('Deployment', n.berth)];
  const berthReady = health[0].ready;
  const runningVersion = berthReady ? berthDeployment?.metadata.labels?.['app.kubernetes.io/version'] : undefined;

  const available = (blockedNote = ''): Condition =>
    condition(
      prev,
      unhealthy.length === 0
        ? {
            type: 'Available',
            status: 'True',
            reason: 'ComponentsReady',
            message: `every component is ready${blockedNote}`,
            observedGeneration: gen,
          }
        : {
            type: 'Available',
            status: 'False',
            reason: 'ComponentNotReady',
            message: `waiting for ${unhealthy.map((u) => `${u.component} (${u.kind} ${u.name}: ${u.detail})`).join('; ')}${blockedNote}`,
            observedGeneration: gen,
          },
      now,
    );

  const block = (problems: BundleProblem[]): ReconcileResult => ({
    objects: [],
    blocked: true,
    status: {
      conditions: [
        available(' (the running version is unchanged while the rollout is blocked)'),
        condition(
          prev,
          {
            type: 'ComponentsCreated',
            status: 'False',
            reason: 'RolloutBlocked',
            message: 'nothing was created or changed: fix the problems in RolloutBlocked',
            observedGeneration: gen,
          },
          now,
        ),
        condition(
          prev,
          {
            type: 'RolloutBlocked',
            status: 'True',
            reason: problems[0].reason,
            message: problems.map((p) => p.message).join('; '),
            observedGeneration: gen,
          },
          now,
        ),
      ],
      registryEndpoint: prev?.registryEndpoint,
      currentVersion: runningVersion ?? prev?.currentVersion,
      unhealthyComponents: unhealthy.map((u) => u.component),
      configChecksum: prev?.configChecksum,
      observedGeneration: prev?.observedGeneration,
    },
  });

  // ---- validation, before anything is built: a problem blocks the rollout and changes nothing ----
  const sp = specProblems(r);
  if (sp.length) return block(sp);
  const rb = readBundle(r.spec.configBundleSecret, r.metadata.namespace ?? '', input.bundleData);
  if (!rb.bundle) return block(rb.problems);
  const bundle = rb.bundle;
  const bp = checkBundle(bundle, managed, r.spec.configBundleSecret);
  if (bp.length) return block(bp);

  // ---- build: each managed component's objects and the config keys it provides ----
  const image = C.berthImage(r, input.images, input.version);
  const provided: Record<string, unknown> = {};
  const objects: K8sObject[] = [];
  const add = (x: { objects: K8sObject[]; config: Record<string, unknown> }) => {
    objects.push(...x.objects);
    Object.assign(provided, x.config);
  };

  if (managed('postgres')) add(C.postgres(r, input.generated, input.images, overrides('postgres')));
  if (managed('redis')) add(C.redis(r, input.generated, input.images, overrides('redis')));
  let storageAccessMode: string | undefined;
  if (managed('objectstorage')) {
    const s = C.objectStorage(r, overrides('objectstorage'));
    add(s);
    storageAccessMode = s.accessMode;
  }
  const tlsManaged = managed('tls');
  if (tlsManaged) add(C.tls(r, input.generated));
  else {
    provided.TLS_CERT_FILE = `${C.PATHS.config}/${BUNDLE_TLS_CERT}`;
    provided.TLS_KEY_FILE = `${C.PATHS.config}/${BUNDLE_TLS_KEY}`;
  }
  if (managed('monitoring')) add(C.monitoring(r, input.assets, managed('scanner')));
  objects.push(C.keysSecret(r, input.generated));

  // ---- replicas: more than one Berth needs storage every replica can mount ----
  const hpaManaged = managed('horizontalpodautoscaler');
  const berthOverrides = overrides('berth');
  const storageShared =
    storageAccessMode === undefined || isShared(storageAccessMode, input.observed[observedKey('PersistentVolumeClaim', n.storage)]);
  const replicas = hpaManaged ? undefined : (berthOverrides?.replicas ?? (storageShared ? 2 : 1));
  const maxReplicas = hpaManaged ? (overrides('horizontalpodautoscaler')?.maxReplicas ?? 20) : replicas!;
  if (!storageShared && maxReplicas > 1) {
    const pvc = input.observed[observedKey('PersistentVolumeClaim', n.storage)];
    const why =
      storageAccessMode !== 'ReadWriteMany'
        ? `objectstorage overrides.volumeAccessMode is ${storageAccessMode}`
        : `PersistentVolumeClaim ${n.storage} was bound without ReadWriteMany (access modes: ${((pvc?.status as { accessModes?: string[] })?.accessModes ?? []).join(', ')}); its storage class cannot share a volume between pods`;
    return block([
      {
        reason: 'StorageNotShareable',
        message: `${hpaManaged ? `the HorizontalPodAutoscaler may scale Berth to ${maxReplicas} replicas` : `${maxReplicas} Berth replicas were asked for`}, but the managed object storage cannot be shared: ${why}. Use a storage class with ReadWriteMany (overrides.storageClassName), set the berth component's overrides.replicas to 1${hpaManaged ? ' and the horizontalpodautoscaler unmanaged' : ''}, or set objectstorage managed: false with S3 in DISTRIBUTED_STORAGE_CONFIG`,
      },
    ]);
  }

  // ---- the effective config: the bundle, then what managed components provide, then the pod's layout ----
  const effective: Record<string, unknown> = {
    ...bundle.config,
    ...provided,
    LISTEN: `0.0.0.0:${C.BERTH_PORT}`,
    DATA_DIR: C.PATHS.data,
    ...(bundle.config.DATABASE_SECRET_KEY ? {} : { DATABASE_SECRET_KEY: input.generated.databaseSecretKey }),
    ...(r.spec.fips ? { FEATURE_FIPS: true } : {}),
  };
  const scannerManaged = managed('scanner');
  if (scannerManaged) Object.assign(effective, C.scanner(r, input.generated, image, overrides('scanner'), '').config);
  const https = tlsManaged || !!effective.TLS_CERT_FILE;
  // What Berth itself would say about the merged config (`berth config validate`): operator-provided values included.
  const merged = checkMerged(effective, r.spec.configBundleSecret);
  if (merged.length) return block(merged);
  const cfg = C.configSecret(r, effective, bundle.files);
  objects.push(cfg.secret);
  // The scanner runs with the same config.yaml: its pods roll with Berth's.
  if (scannerManaged) objects.push(...C.scanner(r, input.generated, image, overrides('scanner'), cfg.checksum).objects);
  objects.push(
    ...C.berth(r, {
      image,
      replicas,
      overrides: berthOverrides,
      configChecksum: cfg.checksum,
      https,
      tlsSecret: tlsManaged ? n.tls : undefined,
      storagePvc: managed('objectstorage') ? n.storage : undefined,
    }),
  );
  const hostname = typeof bundle.config.SERVER_HOSTNAME === 'string' ? bundle.config.SERVER_HOSTNAME : undefined;
  if (managed('ingress') && hostname) objects.push(C.ingress(r, hostname, https, tlsManaged ? n.tls : undefined));
  if (hpaManaged) objects.push(C.hpa(r, overrides('horizontalpodautoscaler')));

  const scheme = https ? 'https' : 'http';
  const endpoint = hostname ? `${scheme}://${hostname}` : `${scheme}://${n.berth}.${r.metadata.namespace}.svc`;
  return {
    objects,
    blocked: false,
    status: {
      conditions: [
        available(),
        condition(
          prev,
          {
            type: 'ComponentsCreated',
            status: 'True',
            reason: 'ComponentsCreated',
            message: `${objects.length} objects applied for: ${[...COMPONENT_KINDS.filter((k) => managed(k)), 'berth'].join(', ')}`,
            observedGeneration: gen,
          },
          now,
        ),
        condition(
          prev,
          {
            type: 'RolloutBlocked',
            status: 'False',
            reason: 'ConfigValid',
            message: 'the config bundle is valid and every unmanaged component has its config',
            observedGeneration: gen,
          },
          now,
        ),
      ],
      registryEndpoint: endpoint,
      currentVersion: runningVersion ?? prev?.currentVersion,
      unhealthyComponents: unhealthy.map((u) => u.component),
      configChecksum: cfg.checksum,
      observedGeneration: gen,
    },
  };
}

/** A bound PVC tells what it really got; before that, the access mode asked for is all there is. */
function isShared(asked: string, pvc: K8sObject | undefined): boolean {
  if (asked !== 'ReadWriteMany') return false;
  const st = pvc?.status as { phase?: string; accessModes?: string[] } | undefined;
  if (st?.phase === 'Bound' && st.accessModes && !st.accessModes.includes('ReadWriteMany')) return false;
  return true;
}

function checkMerged(effective: Record<string, unknown>, secretName: string): BundleProblem[] {
  return validateConfig(effective).problems.map((p) => ({
    reason: 'ConfigInvalid' as const,
    message: `the effective config (Secret "${secretName}" merged with the managed components' keys): ${p}`,
  }));
}
