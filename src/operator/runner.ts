// The thin Kubernetes side of `berth operator`: watches BerthRegistry objects, the Secrets they reference and
// the workloads the operator made; reads what the pure core needs, applies its objects with server-side apply
// (field manager berth-operator), removes objects it owns that are no longer wanted, and writes the status.
import * as k8s from '@kubernetes/client-node';
import { componentsOf, observedKey, reconcile } from './reconcile.js';
import { names, tlsNames, type Assets, type Images } from './components.js';
import { readBundle } from './bundle.js';
import { ensureGenerated } from './generated.js';
import {
  FIELD_MANAGER,
  GROUP,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  PLURAL,
  VERSION,
  type BerthRegistry,
  type BerthRegistryStatus,
  type K8sObject,
} from './types.js';

export interface OperatorOptions {
  kubeconfig?: string;
  /** Watch one namespace only (default: every namespace the RBAC allows). */
  namespace?: string;
  images: Images;
  version: string;
  assets: Assets;
  log?: (line: string) => void;
  /** Re-reconcile everything this often even without events (default 300 s). */
  resyncSeconds?: number;
}

/** Kinds the operator creates, so it can find and remove those it owns but no longer wants. */
const OWNED_KINDS: { apiVersion: string; kind: string }[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'apps/v1', kind: 'StatefulSet' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor' },
  { apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule' },
];

const code = (e: unknown): number | undefined => (e as { code?: number }).code;
const message = (e: unknown): string => {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String((body as { message: unknown }).message);
  return (e as Error).message;
};

export function loadKubeConfig(file?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

export class Operator {
  private readonly kc: k8s.KubeConfig;
  private readonly objects: k8s.KubernetesObjectApi;
  private readonly custom: k8s.CustomObjectsApi;
  private readonly core: k8s.CoreV1Api;
  private readonly queue = new Set<string>();
  private readonly registries = new Map<string, BerthRegistry>();
  private readonly watches: AbortController[] = [];
  private wake?: () => void;
  private stopped = false;
  private resync?: NodeJS.Timeout;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: OperatorOptions) {
    this.kc = loadKubeConfig(opts.kubeconfig);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(this.kc);
    this.custom = this.kc.makeApiClient(k8s.CustomObjectsApi);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
  }

  private path(group: string, version: string, plural: string): string {
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    return this.opts.namespace ? `${base}/namespaces/${this.opts.namespace}/${plural}` : `${base}/${plural}`;
  }

  async start(): Promise<void> {
    const managedBy = `${LABEL_MANAGED_BY}=${FIELD_MANAGER}`;
    await this.watch(this.path(GROUP, VERSION, PLURAL), {}, (type, o: BerthRegistry) => {
      const key = `${o.metadata.namespace}/${o.metadata.name}`;
      if (type === 'DELETED') {
        this.registries.delete(key);
        return;
      }
      this.registries.set(key, o);
      this.enqueue(key);
    });
    // Secrets: a change of a config bundle reconciles the registries that reference it.
    await this.watch(this.path('', 'v1', 'secrets'), {}, (_t, s: K8sObject) => {
      for (const [key, r] of this.registries) {
        if (r.metadata.namespace === s.metadata.namespace && r.spec.configBundleSecret === s.metadata.name) this.enqueue(key);
      }
    });
    // The workloads and the storage claim the operator made: their status feeds Available and the storage check.
    for (const [group, plural] of [
      ['apps', 'deployments'],
      ['apps', 'statefulsets'],
      ['', 'persistentvolumeclaims'],
    ]) {
      await this.watch(this.path(group, 'v1', plural), { labelSelector: managedBy }, (_t, o: K8sObject) => {
        const inst = o.metadata.labels?.[LABEL_INSTANCE];
        if (inst) this.enqueue(`${o.metadata.namespace}/${inst}`);
      });
    }
    this.resync = setInterval(
      () => {
        for (const k of this.registries.keys()) this.enqueue(k);
      },
      (this.opts.resyncSeconds ?? 300) * 1000,
    );
    this.log(
      `berth operator: watching BerthRegistry objects in ${this.opts.namespace ? `namespace ${this.opts.namespace}` : 'every namespace'} (version ${this.opts.version})`,
    );
    void this.work();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.resync);
    for (const w of this.watches) w.abort();
    this.wake?.();
  }

  private async watch(path: string, query: Record<string, string>, onEvent: (type: string, o: any) => void): Promise<void> {
    const w = new k8s.Watch(this.kc);
    let first = true;
    const startOne = async (): Promise<void> => {
      const ac = await w.watch(
        path,
        { ...query, allowWatchBookmarks: true },
        (type, obj) => {
          if (type !== 'BOOKMARK') onEvent(type, obj);
        },
        (err) => {
          if (this.stopped) return;
          if (err && (err as { name?: string }).name !== 'AbortError')
            this.log(`berth operator: watch ${path} ended (${message(err)}); restarting`);
          // Re-list from scratch (ADDED for everything), after a short pause so a failing API is not hammered.
          setTimeout(() => {
            if (!this.stopped) startOne().catch((e) => this.log(`berth operator: watch ${path}: ${message(e)}`));
          }, 1000);
        },
      );
      this.watches.push(ac);
    };
    try {
      await startOne();
    } catch (e) {
      if (first) throw new Error(`cannot watch ${path}: ${message(e)}`);
    }
    first = false;
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.wake?.();
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const key = this.queue.values().next().value;
      if (key === undefined) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = undefined;
        continue;
      }
      this.queue.delete(key);
      try {
        await this.reconcileOne(key);
      } catch (e) {
        const c = code(e);
        this.log(`berth operator: ${key}: ${message(e)}${c === 409 ? ' (conflict; retrying)' : ''}`);
        if (!this.stopped) setTimeout(() => this.enqueue(key), c === 409 ? 200 : 5000);
      }
    }
  }

  private async read<T extends K8sObject>(apiVersion: string, kind: string, namespace: string, name: string): Promise<T | undefined> {
    try {
      return (await this.objects.read({ apiVersion, kind, metadata: { name, namespace } })) as unknown as T;
    } catch (e) {
      if (code(e) === 404) return undefined;
      throw e;
    }
  }

  async reconcileOne(key: string): Promise<void> {
    const [namespace, name] = key.split('/');
    let r: BerthRegistry;
    try {
      r = (await this.custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
      })) as BerthRegistry;
    } catch (e) {
      if (code(e) === 404) return; // deleted: owner references let the garbage collector remove the rest
      throw e;
    }
    if (r.metadata.deletionTimestamp) return;
    const n = names(r);
    let bundleData: Record<string, string> | undefined;
    try {
      bundleData = (await this.core.readNamespacedSecret({ name: r.spec.configBundleSecret, namespace })).data ?? {};
    } catch (e) {
      if (code(e) !== 404) throw e;
    }
    const observed: Record<string, K8sObject | undefined> = {};
    const want: [string, string, string][] = [
      ['apps/v1', 'Deployment', n.berth],
      ['apps/v1', 'Deployment', n.redis],
      ['apps/v1', 'Deployment', n.scanner],
      ['apps/v1', 'StatefulSet', n.postgres],
      ['v1', 'PersistentVolumeClaim', n.storage],
      ['v1', 'Secret', n.postgres],
      ['v1', 'Secret', n.redis],
      ['v1', 'Secret', n.keys],
      ['v1', 'Secret', n.tls],
    ];
    await Promise.all(
      want.map(async ([av, kind, nm]) => {
        observed[observedKey(kind, nm)] = await this.read(av, kind, namespace, nm);
      }),
    );
    const { managed } = componentsOf(r);
    const hostname = readBundle(r.spec.configBundleSecret, namespace, bundleData).bundle?.config.SERVER_HOSTNAME;
    const generated = await ensureGenerated(
      r,
      (nm) => observed[observedKey('Secret', nm)],
      managed('tls') ? tlsNames(r, hostname) : undefined,
    );
    const result = reconcile({
      registry: r,
      bundleData,
      observed,
      generated,
      assets: this.opts.assets,
      images: this.opts.images,
      version: this.opts.version,
      now: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    });
    let status = result.status;
    const changed: string[] = [];
    if (!result.blocked) {
      const failures: string[] = [];
      for (const o of result.objects) {
        try {
          // Apply only what differs from the live object: no write (and no new resourceVersion) when nothing changed.
          const live = await this.read(o.apiVersion, o.kind, namespace, o.metadata.name);
          if (live && contains(live, o)) continue;
          if (process.env.BERTH_OPERATOR_DEBUG && live)
            this.log(
              `debug: ${o.kind} ${o.metadata.name} differs at ${firstDifference(live, o)}: ${JSON.stringify(live.spec ?? live.data)?.slice(0, 300)}`,
            );
          await this.objects.patch(
            o as unknown as k8s.KubernetesObject,
            undefined,
            undefined,
            FIELD_MANAGER,
            true,
            k8s.PatchStrategy.ServerSideApply,
          );
          changed.push(`${o.kind} ${o.metadata.name}`);
        } catch (e) {
          const missingCrd = code(e) === 404 && o.apiVersion.startsWith('monitoring.coreos.com/');
          failures.push(
            missingCrd
              ? `${o.kind} ${o.metadata.name}: the cluster has no ${o.kind} resource (install the Prometheus Operator's CRDs, or set the monitoring component managed: false)`
              : `${o.kind} ${o.metadata.name}: ${message(e).trim()}`,
          );
        }
      }
      if (!failures.length) await this.prune(r, result.objects);
      if (failures.length) {
        const prev = r.status?.conditions?.find((c) => c.type === 'ComponentsCreated');
        status = {
          ...status,
          conditions: status.conditions.map((c) =>
            c.type === 'ComponentsCreated'
              ? {
                  ...c,
                  status: 'False' as const,
                  reason: 'ApplyFailed',
                  message: `could not apply: ${failures.join('; ')}`,
                  lastTransitionTime: prev?.status === 'False' ? prev.lastTransitionTime : c.lastTransitionTime,
                }
              : c,
          ),
        };
      }
    }
    await this.writeStatus(r, status);
    const cond = (t: string) => status.conditions.find((c) => c.type === t);
    this.log(
      `berth operator: ${key}: ${result.blocked ? `rollout blocked (${cond('RolloutBlocked')?.reason})` : `${result.objects.length} objects applied (${changed.length ? `changed: ${changed.join(', ')}` : 'none changed'})`}; Available=${cond('Available')?.status} (${cond('Available')?.reason})`,
    );
  }

  /** Deletes the objects this registry owns that the core no longer wants (a component turned unmanaged, an old import Job). */
  private async prune(r: BerthRegistry, desired: K8sObject[]): Promise<void> {
    const keep = new Set(desired.map((o) => `${o.kind}/${o.metadata.name}`));
    const selector = `${LABEL_INSTANCE}=${r.metadata.name},${LABEL_MANAGED_BY}=${FIELD_MANAGER}`;
    for (const { apiVersion, kind } of OWNED_KINDS) {
      let items: K8sObject[];
      try {
        items = (await this.objects.list(apiVersion, kind, r.metadata.namespace, undefined, undefined, undefined, undefined, selector))
          .items as unknown as K8sObject[];
      } catch (e) {
        if (code(e) === 404) continue; // e.g. no Prometheus Operator CRDs in this cluster
        throw e;
      }
      for (const o of items) {
        const owned = o.metadata.ownerReferences?.some((ref) => ref.uid === r.metadata.uid);
        if (!owned || keep.has(`${kind}/${o.metadata.name}`)) continue;
        await this.objects.delete(
          { apiVersion, kind, metadata: { name: o.metadata.name, namespace: o.metadata.namespace } },
          undefined,
          undefined,
          undefined,
          undefined,
          'Background',
        );
        this.log(`berth operator: ${r.metadata.namespace}/${r.metadata.name}: removed ${kind} ${o.metadata.name} (no longer wanted)`);
      }
    }
  }

  private async writeStatus(r: BerthRegistry, status: BerthRegistryStatus): Promise<void> {
    const clean = JSON.parse(JSON.stringify(status)) as BerthRegistryStatus;
    if (canonical(r.status ?? {}) === canonical(clean)) return; // unchanged: no write, no new event
    await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: r.metadata.namespace!,
      plural: PLURAL,
      name: r.metadata.name,
      body: { ...r, status: clean },
    });
  }
}

/** JSON with sorted keys: the API server returns objects with its own key order. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}

/** True when every field of `want` has the same value in `have` (lists: same length, element by element). */
export function contains(have: unknown, want: unknown): boolean {
  if (want === null || typeof want !== 'object') return have === want;
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => contains(have[i], w));
  if (have === null || typeof have !== 'object' || Array.isArray(have)) return false;
  return Object.entries(want as Record<string, unknown>).every(
    ([k, v]) => v === undefined || contains((have as Record<string, unknown>)[k], v),
  );
}

function firstDifference(have: unknown, want: unknown, at = ''): string | undefined {
  if (want === null || typeof want !== 'object')
    return have === want ? undefined : `${at} (${JSON.stringify(have)?.slice(0, 60)} != ${JSON.stringify(want)?.slice(0, 60)})`;
  if (Array.isArray(want)) {
    if (!Array.isArray(have) || have.length !== want.length) return `${at} (length)`;
    for (let i = 0; i < want.length; i++) {
      const d = firstDifference(have[i], want[i], `${at}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  for (const [k, v] of Object.entries(want as Record<string, unknown>)) {
    if (v === undefined) continue;
    const d = firstDifference((have as Record<string, unknown> | undefined)?.[k], v, `${at}.${k}`);
    if (d) return d;
  }
  return undefined;
}
