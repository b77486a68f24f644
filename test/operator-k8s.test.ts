// `berth operator` as a whole against a REAL Kubernetes API server (../shared/k8s: kube-apiserver 1.26 on etcd,
// no kubelet, no controllers). The operator runs as a child process under its own ServiceAccount (a token from
// the TokenRequest API, bound by deploy/kubernetes/operator/rbac.yaml), so the RBAC is proven too.
// Pods never run there: workload readiness is simulated by writing the Deployments' status as the admin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import * as k8s from '@kubernetes/client-node';
import { BERTH_BIN } from './helpers/server.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SHARED_K8S = path.resolve(ROOT, '../shared/k8s');
const etcd = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' }).stdout.trim();
const skip = !existsSync(path.join(SHARED_K8S, 'start.sh'))
  ? `../shared/k8s is missing: put the shared folder beside the repository (see its README.md) and run npm test -- test/operator-k8s.test.ts: SKIPPED`
  : !etcd
    ? 'etcd is not installed (apt-get install -y etcd-server; .ci/run installs it): SKIPPED'
    : false;
if (skip) console.log(`NOTE: ${skip}`);

const GROUP = 'registry.berth.dev';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

let k8sDir = '';
let admin: k8s.KubeConfig;
let objects: k8s.KubernetesObjectApi;
let custom: k8s.CustomObjectsApi;
let core: k8s.CoreV1Api;
let apps: k8s.AppsV1Api;
let operator: ChildProcess | undefined;
let opLog = '';
let saKubeconfig = '';

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\noperator log:\n${opLog.slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function apply(o: Record<string, any>): Promise<void> {
  await objects.patch(o as k8s.KubernetesObject, undefined, undefined, 'test-admin', true, k8s.PatchStrategy.ServerSideApply);
}

/**
 * Server-side apply of a manifest as it is written, the way kubectl sends it. (client-node's typed serializer
 * drops fields whose wire name is not the model's property name, such as x-kubernetes-preserve-unknown-fields.)
 */
async function applyManifest(o: Record<string, any>): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  const plural = `${o.kind.toLowerCase()}s`;
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const p = `${base}${o.metadata.namespace ? `/namespaces/${o.metadata.namespace}` : ''}/${plural}/${o.metadata.name}?fieldManager=test-admin&force=true`;
  const cluster = admin.getCurrentCluster()!;
  const { request } = await import('node:https');
  await new Promise<void>((resolve, reject) => {
    const req = request(
      new URL(p, cluster.server),
      {
        method: 'PATCH',
        ca: Buffer.from(cluster.caData!, 'base64'),
        headers: { authorization: `Bearer ${admin.getCurrentUser()!.token}`, 'content-type': 'application/apply-patch+yaml' },
      },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () =>
          res.statusCode! < 300 ? resolve() : reject(new Error(`${o.kind} ${o.metadata.name}: ${res.statusCode} ${body}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(o));
  });
}
const getReg = async (ns: string, name: string) =>
  custom.getNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: ns, plural: 'berthregistries', name });
const cond = (r: any, type: string) => (r.status?.conditions ?? []).find((c: { type: string }) => c.type === type);

async function bundle(ns: string, name: string, config: Record<string, unknown>): Promise<void> {
  await apply({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns },
    type: 'Opaque',
    data: { 'config.yaml': b64(stringify(config)) },
  });
}
async function registry(ns: string, name: string, spec: Record<string, unknown>): Promise<any> {
  await apply({ apiVersion: `${GROUP}/v1`, kind: 'BerthRegistry', metadata: { name, namespace: ns }, spec });
  return getReg(ns, name);
}
async function namespace(name: string): Promise<void> {
  await apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}

const OWNED: [string, string][] = [
  ['apps/v1', 'Deployment'],
  ['apps/v1', 'StatefulSet'],
  ['v1', 'Service'],
  ['v1', 'Secret'],
  ['v1', 'ConfigMap'],
  ['v1', 'PersistentVolumeClaim'],
  ['batch/v1', 'Job'],
  ['networking.k8s.io/v1', 'Ingress'],
  ['autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['monitoring.coreos.com/v1', 'ServiceMonitor'],
  ['monitoring.coreos.com/v1', 'PrometheusRule'],
];
/** Every object the operator made for a registry: `Kind/name` -> the object. */
async function made(ns: string, name: string): Promise<Map<string, any>> {
  const out = new Map<string, any>();
  for (const [av, kind] of OWNED) {
    const list = await objects.list(
      av,
      kind,
      ns,
      undefined,
      undefined,
      undefined,
      undefined,
      `app.kubernetes.io/instance=${name},app.kubernetes.io/managed-by=berth-operator`,
    );
    for (const o of list.items) out.set(`${kind}/${o.metadata!.name}`, o);
  }
  return out;
}
const versions = (m: Map<string, any>) => new Map([...m].map(([k, o]) => [k, o.metadata.resourceVersion]));

/** Waits for the operator's log line saying it finished a reconcile of ns/name after `from` characters of log. */
function reconciledAfter(from: number, key: string): Promise<string> {
  return until(`a reconcile of ${key}`, async () =>
    opLog
      .slice(from)
      .split('\n')
      .find((l) => l.startsWith(`berth operator: ${key}: `) && /applied|blocked/.test(l)),
  );
}

/** Pods never run here: report the workloads rolled out and available, as their controllers would. */
async function markReady(ns: string, name: string): Promise<void> {
  for (const n of [name, `${name}-redis`, `${name}-scanner`]) {
    const d = await apps.readNamespacedDeployment({ name: n, namespace: ns });
    const want = d.spec!.replicas ?? 1;
    await apps.replaceNamespacedDeploymentStatus({
      name: n,
      namespace: ns,
      body: {
        ...d,
        status: {
          observedGeneration: d.metadata!.generation,
          replicas: want,
          readyReplicas: want,
          availableReplicas: want,
          updatedReplicas: want,
        },
      },
    });
  }
  const ss = await apps.readNamespacedStatefulSet({ name: `${name}-postgres`, namespace: ns });
  await apps.replaceNamespacedStatefulSetStatus({
    name: `${name}-postgres`,
    namespace: ns,
    body: {
      ...ss,
      status: { observedGeneration: ss.metadata!.generation, replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1 },
    },
  });
}

before(async () => {
  if (skip) return;
  k8sDir = mkdtempSync(path.join(tmpdir(), 'berth-op-k8s-'));
  const start = spawnSync('bash', [path.join(SHARED_K8S, 'start.sh')], {
    env: { ...process.env, K8S_DIR: k8sDir },
    encoding: 'utf8',
    timeout: 180_000,
  });
  assert.equal(start.status, 0, start.stderr);
  const kubeconfig = start.stdout.trim().split('\n').pop()!;
  admin = new k8s.KubeConfig();
  admin.loadFromFile(kubeconfig);
  objects = k8s.KubernetesObjectApi.makeApiClient(admin);
  custom = admin.makeApiClient(k8s.CustomObjectsApi);
  core = admin.makeApiClient(k8s.CoreV1Api);
  apps = admin.makeApiClient(k8s.AppsV1Api);
  // Install the operator the way a user does (the kustomization's resources, in order), and the Prometheus Operator's CRDs.
  const dir = path.join(ROOT, 'deploy/kubernetes/operator');
  const kust = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const docs = [
    ...kust.resources.flatMap((f) => parseAllDocuments(readFileSync(path.join(dir, f), 'utf8')).map((d) => d.toJS())),
    ...parseAllDocuments(readFileSync(path.join(ROOT, 'test/fixtures/prometheus-operator-crds.yaml'), 'utf8')).map((d) => d.toJS()),
  ];
  for (const d of docs) await applyManifest(d);
  const ext = admin.makeApiClient(k8s.ApiextensionsV1Api);
  for (const crd of docs.filter((d) => d.kind === 'CustomResourceDefinition')) {
    await until(`CRD ${crd.metadata.name} established`, async () =>
      (await ext.readCustomResourceDefinition({ name: crd.metadata.name })).status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      ),
    );
  }
  // A token for the operator's ServiceAccount (TokenRequest API) and a kubeconfig that uses only it.
  const tr = await core.createNamespacedServiceAccountToken({
    name: 'berth-operator',
    namespace: 'berth-operator',
    body: { spec: { audiences: [], expirationSeconds: 3600 } } as k8s.AuthenticationV1TokenRequest,
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = parse(readFileSync(kubeconfig, 'utf8'));
  saKubeconfig = path.join(k8sDir, 'operator.kubeconfig');
  writeFileSync(
    saKubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: kc.clusters,
      users: [{ name: 'berth-operator', user: { token: tr.status!.token } }],
      contexts: [{ name: 'operator', context: { cluster: kc.clusters[0].name, user: 'berth-operator' } }],
      'current-context': 'operator',
    }),
    { mode: 0o600 },
  );
  assert.ok(cluster.server.startsWith('https://127.0.0.1:'));
  operator = spawn(process.execPath, [BERTH_BIN, 'operator', '--kubeconfig', saKubeconfig], {
    env: { ...process.env, RELATED_IMAGE_BERTH: 'registry.example/berth:9.9.9', BERTH_VERSION: '9.9.9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  operator.stdout!.on('data', (d) => {
    opLog += d;
  });
  operator.stderr!.on('data', (d) => {
    opLog += d;
  });
  await until('the operator watching', async () => opLog.includes('watching BerthRegistry objects'), 60_000);
});

after(async () => {
  if (skip) return;
  if (process.env.BERTH_TEST_OPERATOR_LOG) writeFileSync(process.env.BERTH_TEST_OPERATOR_LOG, opLog);
  if (operator && operator.exitCode === null) {
    const exited = new Promise((r) => operator!.once('exit', r));
    operator.kill('SIGTERM');
    await exited;
  }
  spawnSync('bash', [path.join(SHARED_K8S, 'stop.sh')], { env: { ...process.env, K8S_DIR: k8sDir }, encoding: 'utf8' });
  rmSync(k8sDir, { recursive: true, force: true });
});

test("the operator's ServiceAccount can do what the operator needs and no more", { skip }, async () => {
  const sa = new k8s.KubeConfig();
  sa.loadFromFile(saKubeconfig);
  const authz = sa.makeApiClient(k8s.AuthorizationV1Api);
  const can = async (verb: string, group: string, resource: string, subresource?: string) =>
    (
      await authz.createSelfSubjectAccessReview({
        body: { spec: { resourceAttributes: { namespace: 'any', verb, group, resource, subresource } } },
      })
    ).status!.allowed;
  assert.equal(await can('watch', GROUP, 'berthregistries'), true);
  assert.equal(await can('update', GROUP, 'berthregistries', 'status'), true);
  assert.equal(await can('patch', 'apps', 'deployments'), true);
  assert.equal(await can('update', GROUP, 'berthregistries'), false, "the spec is the user's");
  assert.equal(await can('list', '', 'pods'), false);
  assert.equal(await can('create', 'rbac.authorization.k8s.io', 'rolebindings'), false);
  assert.equal(await can('create', '', 'pods', 'exec'), false);
  assert.equal(await can('delete', 'apiextensions.k8s.io', 'customresourcedefinitions'), false);
});

test('a BerthRegistry with everything managed: objects with owner references, conditions, Available once the workloads are', {
  skip,
}, async () => {
  await namespace('team-a');
  await bundle('team-a', 'bundle', { SERVER_HOSTNAME: 'registry.team-a.example', FEATURE_USER_CREATION: false });
  const reg = await registry('team-a', 'reg', { configBundleSecret: 'bundle' });
  const r = await until('ComponentsCreated', async () => {
    const x = await getReg('team-a', 'reg');
    return cond(x, 'ComponentsCreated')?.status === 'True' && x;
  });
  assert.equal(cond(r, 'RolloutBlocked').status, 'False');
  assert.equal(cond(r, 'Available').status, 'False');
  assert.equal(cond(r, 'Available').reason, 'ComponentNotReady');
  assert.deepEqual(r.status.unhealthyComponents, ['berth', 'postgres', 'redis', 'scanner']);
  assert.equal(r.status.registryEndpoint, 'https://registry.team-a.example');
  const m = await made('team-a', 'reg');
  for (const k of [
    'Deployment/reg',
    'Deployment/reg-redis',
    'Deployment/reg-scanner',
    'StatefulSet/reg-postgres',
    'Service/reg',
    'Secret/reg-config',
    'Secret/reg-tls',
    'PersistentVolumeClaim/reg-storage',
    'PersistentVolumeClaim/reg-postgres-data',
    'Ingress/reg',
    'HorizontalPodAutoscaler/reg',
    'PrometheusRule/reg',
    'ServiceMonitor/reg',
    'ConfigMap/reg-grafana-dashboard',
  ]) {
    assert.ok(m.has(k), `${k} was not created`);
  }
  for (const [k, o] of m) {
    const refs = o.metadata.ownerReferences ?? [];
    if (k === 'PersistentVolumeClaim/reg-postgres-data' || k === 'Secret/reg-postgres') {
      assert.deepEqual(refs, [], `${k} must outlive the registry`);
      continue;
    }
    assert.equal(refs.length, 1, k);
    assert.equal(refs[0].uid, reg.metadata.uid, k);
    assert.equal(refs[0].controller, true, k);
    // Server-side apply, field manager berth-operator.
    assert.ok(
      o.metadata.managedFields.some(
        (f: { manager: string; operation: string }) => f.manager === 'berth-operator' && f.operation === 'Apply',
      ),
      k,
    );
  }
  const dep = m.get('Deployment/reg');
  assert.equal(dep.spec.template.spec.containers[0].image, 'registry.example/berth:9.9.9');
  assert.equal(dep.spec.template.metadata.annotations['registry.berth.dev/config-checksum'], r.status.configChecksum);
  const cfg = parse(unb64(m.get('Secret/reg-config').data['config.yaml']));
  assert.match(cfg.DB_URI, /^postgresql:\/\/berth:[^@]+@reg-postgres\.team-a\.svc:5432\/berth$/);
  assert.equal(cfg.FEATURE_USER_CREATION, false);
  await markReady('team-a', 'reg');
  const ready = await until('Available', async () => {
    const x = await getReg('team-a', 'reg');
    return cond(x, 'Available')?.status === 'True' && x;
  });
  assert.equal(ready.status.currentVersion, '9.9.9');
  assert.deepEqual(ready.status.unhealthyComponents, []);
});

test('idempotence against the API server: another reconcile changes no object', { skip }, async () => {
  const before = versions(await made('team-a', 'reg'));
  const from = opLog.length;
  // A label on the BerthRegistry is an event (a new reconcile) that changes nothing the core looks at.
  await objects.patch(
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'BerthRegistry',
      metadata: { name: 'reg', namespace: 'team-a', labels: { poke: '1' } },
    } as k8s.KubernetesObject,
    undefined,
    undefined,
    'test-poke',
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
  await reconciledAfter(from, 'team-a/reg');
  assert.deepEqual(versions(await made('team-a', 'reg')), before);
});

test("a config bundle change rolls Berth's pods: a new checksum on the pod template", { skip }, async () => {
  const old = (await apps.readNamespacedDeployment({ name: 'reg', namespace: 'team-a' })).spec!.template.metadata!.annotations![
    'registry.berth.dev/config-checksum'
  ];
  await bundle('team-a', 'bundle', { SERVER_HOSTNAME: 'registry.team-a.example', FEATURE_USER_CREATION: true });
  const sum = await until('a new checksum', async () => {
    const s = (await apps.readNamespacedDeployment({ name: 'reg', namespace: 'team-a' })).spec!.template.metadata!.annotations![
      'registry.berth.dev/config-checksum'
    ];
    return s !== old && s;
  });
  const r = await until('status with the new checksum', async () => {
    const x = await getReg('team-a', 'reg');
    return x.status.configChecksum === sum && x;
  });
  assert.equal(cond(r, 'RolloutBlocked').status, 'False');
  const cfg = parse(unb64((await core.readNamespacedSecret({ name: 'reg-config', namespace: 'team-a' })).data!['config.yaml']));
  assert.equal(cfg.FEATURE_USER_CREATION, true);
  const scanner = await apps.readNamespacedDeployment({ name: 'reg-scanner', namespace: 'team-a' });
  assert.equal(
    scanner.spec!.template.metadata!.annotations!['registry.berth.dev/config-checksum'],
    sum,
    'the scanner rolls with the same config',
  );
  // The new pods roll out (as the Deployment controller would report it): Available again.
  const from = opLog.length;
  await markReady('team-a', 'reg');
  await until('Available after the rollout', async () => cond(await getReg('team-a', 'reg'), 'Available')?.status === 'True');
  await reconciledAfter(from, 'team-a/reg');
});

test('a broken bundle blocks the rollout (RolloutBlocked names the key) and nothing running changes', { skip }, async () => {
  // A settled registry: rolled out, Available, the operator's last reconcile done.
  let from = opLog.length;
  await markReady('team-a', 'reg');
  await until('Available', async () => cond(await getReg('team-a', 'reg'), 'Available')?.status === 'True');
  await reconciledAfter(from, 'team-a/reg');
  const before = versions(await made('team-a', 'reg'));
  from = opLog.length;
  await bundle('team-a', 'bundle', { SERVER_HOSTNAME: 'registry.team-a.example', PREFERRED_URL_SCHEME: 'ftp' });
  const r = await until('RolloutBlocked', async () => {
    const x = await getReg('team-a', 'reg');
    return cond(x, 'RolloutBlocked')?.status === 'True' && x;
  });
  assert.equal(cond(r, 'RolloutBlocked').reason, 'ConfigInvalid');
  assert.match(cond(r, 'RolloutBlocked').message, /PREFERRED_URL_SCHEME/);
  assert.equal(cond(r, 'ComponentsCreated').status, 'False');
  assert.equal(cond(r, 'Available').status, 'True', 'the running registry is still available');
  assert.deepEqual(versions(await made('team-a', 'reg')), before, 'no object changed');
  assert.doesNotMatch(opLog.slice(from), /team-a\/reg: \d+ objects applied \(changed/, 'the operator changed nothing');
  // An unmanaged component without its key: blocked, naming DB_URI, still nothing changed (the spec first, so
  // that the bundle's repair below never meets a spec it is valid for).
  await objects.patch(
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'BerthRegistry',
      metadata: { name: 'reg', namespace: 'team-a' },
      spec: { configBundleSecret: 'bundle', components: [{ kind: 'postgres', managed: false }] },
    } as k8s.KubernetesObject,
    undefined,
    undefined,
    'test-admin',
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
  await until('RolloutBlocked on both', async () => /DB_URI/.test(cond(await getReg('team-a', 'reg'), 'RolloutBlocked')?.message ?? ''));
  await bundle('team-a', 'bundle', { SERVER_HOSTNAME: 'registry.team-a.example', FEATURE_USER_CREATION: true });
  const r2 = await until('RolloutBlocked on DB_URI alone', async () => {
    const x = await getReg('team-a', 'reg');
    const m = cond(x, 'RolloutBlocked')?.message ?? '';
    return /DB_URI/.test(m) && !/PREFERRED_URL_SCHEME/.test(m) && x;
  });
  assert.match(cond(r2, 'RolloutBlocked').message, /component postgres is unmanaged .* must set DB_URI/);
  assert.deepEqual(versions(await made('team-a', 'reg')), before, 'no object changed');
  // Fixed: managed again, the rollout goes on.
  await objects.patch(
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'BerthRegistry',
      metadata: { name: 'reg', namespace: 'team-a' },
      spec: { configBundleSecret: 'bundle', components: [] },
    } as k8s.KubernetesObject,
    undefined,
    undefined,
    'test-admin',
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
  await until('RolloutBlocked False', async () => cond(await getReg('team-a', 'reg'), 'RolloutBlocked')?.status === 'False');
});

test('turning a component unmanaged removes what the operator ran for it (the HPA); Berth gets a replica count', { skip }, async () => {
  await objects.patch(
    {
      apiVersion: `${GROUP}/v1`,
      kind: 'BerthRegistry',
      metadata: { name: 'reg', namespace: 'team-a' },
      spec: {
        configBundleSecret: 'bundle',
        components: [
          { kind: 'horizontalpodautoscaler', managed: false },
          { kind: 'berth', managed: true, overrides: { replicas: 3 } },
        ],
      },
    } as k8s.KubernetesObject,
    undefined,
    undefined,
    'test-admin',
    true,
    k8s.PatchStrategy.ServerSideApply,
  );
  await until('the HPA removed', async () => !(await made('team-a', 'reg')).has('HorizontalPodAutoscaler/reg'));
  await until('3 replicas', async () => (await apps.readNamespacedDeployment({ name: 'reg', namespace: 'team-a' })).spec!.replicas === 3);
});

test("a missing bundle Secret: ConfigBundleMissing, then the Secret's creation starts the rollout", { skip }, async () => {
  await namespace('team-b');
  await registry('team-b', 'small', {
    configBundleSecret: 'later',
    components: [
      { kind: 'monitoring', managed: false },
      { kind: 'ingress', managed: false },
      { kind: 'horizontalpodautoscaler', managed: false },
    ],
  });
  const r = await until('ConfigBundleMissing', async () => {
    const x = await getReg('team-b', 'small');
    return cond(x, 'RolloutBlocked')?.reason === 'ConfigBundleMissing' && x;
  });
  assert.match(cond(r, 'RolloutBlocked').message, /Secret "later" \(spec.configBundleSecret\) does not exist in namespace team-b/);
  assert.equal((await made('team-b', 'small')).size, 0, 'nothing created');
  await bundle('team-b', 'later', {});
  await until('ComponentsCreated', async () => cond(await getReg('team-b', 'small'), 'ComponentsCreated')?.status === 'True');
  const m = await made('team-b', 'small');
  assert.equal(m.has('Ingress/small') || m.has('PrometheusRule/small') || m.has('HorizontalPodAutoscaler/small'), false);
  assert.equal(m.get('Deployment/small').spec.replicas, 2);
});

test('deleting a BerthRegistry: everything it owns goes with it (owner references) except the PostgreSQL volume and password', {
  skip,
}, async () => {
  const reg = await getReg('team-b', 'small');
  const m = await made('team-b', 'small');
  await custom.deleteNamespacedCustomObject({ group: GROUP, version: 'v1', namespace: 'team-b', plural: 'berthregistries', name: 'small' });
  await until('the registry gone', async () => {
    try {
      await getReg('team-b', 'small');
      return false;
    } catch (e) {
      return (e as { code?: number }).code === 404;
    }
  });
  // This API server runs no garbage collector: what it would delete is exactly what names the registry as owner.
  const survivors = [...m]
    .filter(([, o]) => !(o.metadata.ownerReferences ?? []).some((x: { uid: string }) => x.uid === reg.metadata.uid))
    .map(([k]) => k)
    .sort();
  assert.deepEqual(survivors, ['PersistentVolumeClaim/small-postgres-data', 'Secret/small-postgres']);
  // The operator does not recreate anything for a deleted registry.
  const from = opLog.length;
  await bundle('team-b', 'later', { FEATURE_USER_CREATION: true });
  const after = await made('team-b', 'small');
  assert.deepEqual(versions(after), versions(m));
  // A reconcile already in flight when the registry went may still log, but it must change nothing.
  assert.doesNotMatch(opLog.slice(from), /team-b\/small: \d+ objects applied \((?!none changed)/, 'no change to a deleted registry');
});
