// The operator's reconcile core (src/operator/reconcile.ts), a pure function: every managed/unmanaged
// combination, config errors, storage that cannot be shared, upgrades, FIPS, the air-gapped scanner and
// idempotence. Every object it produces, and the CRD, is validated against the upstream Kubernetes OpenAPI
// schemas (kubernetes-models) and the Prometheus Operator's (@kubernetes-models/prometheus-operator).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { reconcile, observedKey, type ReconcileInput } from '../src/operator/reconcile.ts';
import { ensureGenerated } from '../src/operator/generated.ts';
import { loadAssets } from '../src/operator/assets.ts';
import { tlsNames, type Generated } from '../src/operator/components.ts';
import { validateConfig } from '../src/config/load.ts';
import {
  COMPONENT_KINDS,
  CHECKSUM_ANNOTATION,
  type BerthRegistry,
  type ComponentKind,
  type ComponentSpec,
  type K8sObject,
} from '../src/operator/types.ts';
import { validateObject } from './helpers/k8s-schemas.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const images = {
  berth: 'registry.example/berth:1.0.0',
  berthFips: 'registry.example/berth-fips:1.0.0',
  postgres: 'postgres:15',
  redis: 'redis:7',
};
const assets = loadAssets();
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
const T0 = '2026-01-01T00:00:00Z';

function registry(spec: Partial<BerthRegistry['spec']> = {}, status?: BerthRegistry['status']): BerthRegistry {
  return {
    apiVersion: 'registry.berth.dev/v1',
    kind: 'BerthRegistry',
    metadata: { name: 'reg', namespace: 'team', uid: 'uid-1', generation: 1 },
    spec: { configBundleSecret: 'bundle', ...spec },
    ...(status ? { status } : {}),
  };
}
function bundle(config: Record<string, unknown>, files: Record<string, string> = {}): Record<string, string> {
  return { 'config.yaml': b64(stringify(config)), ...Object.fromEntries(Object.entries(files).map(([k, v]) => [k, b64(v)])) };
}
const components = (unmanaged: ComponentKind[], extra: ComponentSpec[] = []): ComponentSpec[] => [
  ...unmanaged.map((kind) => ({ kind, managed: false })),
  ...extra,
];

let generatedCache: Generated | undefined;
async function generated(): Promise<Generated> {
  // The runner's generation step (berth certs init's code) once; the core is pure given these values.
  generatedCache ??= await ensureGenerated(registry(), () => undefined, tlsNames(registry(), 'registry.example.com'));
  return generatedCache;
}
async function input(
  r: BerthRegistry,
  bundleData: Record<string, string> | undefined,
  extra: Partial<ReconcileInput> = {},
): Promise<ReconcileInput> {
  return { registry: r, bundleData, observed: {}, generated: await generated(), assets, images, version: '1.0.0', now: T0, ...extra };
}
const find = (objs: K8sObject[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name === name);
function effectiveConfig(objs: K8sObject[]): Record<string, any> {
  const s = find(objs, 'Secret', 'reg-config')!;
  return parse(unb64((s.data as Record<string, string>)['config.yaml']));
}
const cond = (st: { conditions: { type: string }[] }, type: string) =>
  st.conditions.find((c) => c.type === type) as unknown as { status: string; reason: string; message: string; lastTransitionTime: string };

/** What an unmanaged component needs in the bundle. */
function bundleFor(unmanaged: ComponentKind[]): Record<string, string> {
  const cfg: Record<string, unknown> = { SERVER_HOSTNAME: 'registry.example.com' };
  if (unmanaged.includes('postgres')) cfg.DB_URI = 'postgresql://berth:pw@db.example.com:5432/berth';
  if (unmanaged.includes('redis'))
    cfg.DATA_MODEL_CACHE_CONFIG = {
      engine: 'redis',
      redis_config: { primary: { host: 'redis.example.com', port: 6379, password: 'pw', ssl: true } },
    };
  if (unmanaged.includes('objectstorage'))
    cfg.DISTRIBUTED_STORAGE_CONFIG = { default: ['LocalStorage', { storage_path: '/mnt/shared/berth' }] };
  const files: Record<string, string> = unmanaged.includes('tls')
    ? { 'ssl.cert': '-----BEGIN CERTIFICATE-----\n', 'ssl.key': '-----BEGIN PRIVATE KEY-----\n' }
    : {};
  return bundle(cfg, files);
}

test('the CRD validates as an apiextensions.k8s.io/v1 CustomResourceDefinition, with status subresource and printer columns', async () => {
  const crd = parse(readFileSync(path.join(ROOT, 'deploy/kubernetes/operator/crd.yaml'), 'utf8'));
  await validateObject(crd);
  const v = crd.spec.versions[0];
  assert.equal(crd.metadata.name, 'berthregistries.registry.berth.dev');
  assert.equal(v.name, 'v1');
  assert.deepEqual(v.subresources, { status: {} });
  assert.deepEqual(
    v.additionalPrinterColumns.map((c: { name: string }) => c.name),
    ['Available', 'Blocked', 'Version', 'Endpoint', 'Unhealthy', 'Age'],
  );
  const spec = v.schema.openAPIV3Schema.properties.spec;
  assert.deepEqual(spec.required, ['configBundleSecret']);
  assert.deepEqual(
    spec.properties.components.items.properties.kind.enum.filter((k: string) => k !== 'berth'),
    [...COMPONENT_KINDS],
  );
  const o = spec.properties.components.items.properties.overrides.properties;
  for (const k of ['replicas', 'env', 'resources', 'volumeSize', 'airgap']) assert.ok(o[k], `overrides.${k} missing from the schema`);
  const st = v.schema.openAPIV3Schema.properties.status.properties;
  for (const k of ['conditions', 'registryEndpoint', 'currentVersion', 'unhealthyComponents']) assert.ok(st[k], `status.${k}`);
  assert.deepEqual(st.conditions.items.properties.type.enum, ['Available', 'ComponentsCreated', 'RolloutBlocked']);
});

test('the operator manifests (RBAC, ServiceAccount, Deployment, Namespace) validate and the kustomization lists them all', async () => {
  const dir = path.join(ROOT, 'deploy/kubernetes/operator');
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  const { parseAllDocuments } = await import('yaml');
  const kinds: string[] = [];
  for (const f of k.resources) {
    for (const d of parseAllDocuments(readFileSync(path.join(dir, f), 'utf8'))) {
      const o = d.toJS();
      await validateObject(o);
      kinds.push(o.kind);
    }
  }
  assert.deepEqual(kinds.sort(), [
    'ClusterRole',
    'ClusterRoleBinding',
    'CustomResourceDefinition',
    'Deployment',
    'Namespace',
    'ServiceAccount',
  ]);
  const rbac = parseAllDocuments(readFileSync(path.join(dir, 'rbac.yaml'), 'utf8')).map((d) => d.toJS());
  const rules = rbac.find((o) => o.kind === 'ClusterRole').rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  // Least privilege: no wildcards, no pods, no escalation verbs.
  for (const r of rules) {
    assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'), JSON.stringify(r));
    assert.ok(!r.resources.some((x) => /^pods|nodes|roles|rolebindings|clusterroles/.test(x)), JSON.stringify(r));
    assert.ok(!r.verbs.some((v) => ['escalate', 'bind', 'impersonate'].includes(v)), JSON.stringify(r));
  }
});

test('everything managed (a minimal registry): every object validates, the effective config carries what the components provide', async () => {
  const res = reconcile(await input(registry(), bundle({ SERVER_HOSTNAME: 'registry.example.com', FEATURE_USER_CREATION: false })));
  assert.equal(res.blocked, false);
  for (const o of res.objects) await validateObject(o);
  const kinds = res.objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
  assert.deepEqual(kinds, [
    'ConfigMap/reg-grafana-dashboard',
    'Deployment/reg',
    'Deployment/reg-redis',
    'Deployment/reg-scanner',
    'HorizontalPodAutoscaler/reg',
    'Ingress/reg',
    'PersistentVolumeClaim/reg-postgres-data',
    'PersistentVolumeClaim/reg-storage',
    'PrometheusRule/reg',
    'Secret/reg-config',
    'Secret/reg-keys',
    'Secret/reg-postgres',
    'Secret/reg-redis',
    'Secret/reg-tls',
    'Service/reg',
    'Service/reg-metrics',
    'Service/reg-postgres',
    'Service/reg-redis',
    'Service/reg-scanner',
    'Service/reg-scanner-metrics',
    'ServiceMonitor/reg',
    'StatefulSet/reg-postgres',
  ]);
  const cfg = effectiveConfig(res.objects);
  const g = await generated();
  assert.equal(cfg.FEATURE_USER_CREATION, false, "the bundle's own keys are kept");
  assert.equal(cfg.DB_URI, `postgresql://berth:${encodeURIComponent(g.postgresPassword)}@reg-postgres.team.svc:5432/berth`);
  assert.deepEqual(cfg.DATA_MODEL_CACHE_CONFIG, {
    engine: 'redis',
    redis_config: { primary: { host: 'reg-redis.team.svc', port: 6379, password: g.redisPassword, ssl: false } },
  });
  assert.deepEqual(cfg.DISTRIBUTED_STORAGE_CONFIG, { default: ['LocalStorage', { storage_path: '/var/lib/berth/storage' }] });
  assert.equal(cfg.SECURITY_SCANNER_V4_ENDPOINT, 'http://reg-scanner.team.svc:6060');
  assert.equal(cfg.SECURITY_SCANNER_V4_PSK, g.scannerPsk);
  assert.equal(cfg.PREFERRED_URL_SCHEME, 'https');
  assert.equal(cfg.TLS_CERT_FILE, '/etc/berth/tls/tls.crt');
  assert.equal(cfg.METRICS_PORT, 9091);
  assert.equal(cfg.DATABASE_SECRET_KEY, g.databaseSecretKey);
  assert.deepEqual(validateConfig(cfg).problems, [], 'the effective config passes berth config validate');
  // The pod template carries the config's checksum; status reports it.
  const dep = find(res.objects, 'Deployment', 'reg') as any;
  assert.equal(dep.spec.template.metadata.annotations[CHECKSUM_ANNOTATION], res.status.configChecksum);
  assert.equal(dep.spec.replicas, undefined, 'the HPA owns the replica count');
  assert.deepEqual(dep.spec.template.spec.containers[0].args, ['serve', '--config', '/etc/berth/config/config.yaml']);
  const sc = dep.spec.template.spec.containers[0].securityContext;
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.equal(dep.spec.template.spec.securityContext.runAsNonRoot, true);
  // Owner references on everything, except the PostgreSQL volume and its password, which outlive the registry.
  for (const o of res.objects) {
    const owned = o.metadata.ownerReferences?.[0];
    if (o.metadata.name === 'reg-postgres-data' || (o.kind === 'Secret' && o.metadata.name === 'reg-postgres'))
      assert.equal(owned, undefined, `${o.kind} ${o.metadata.name}`);
    else
      assert.deepEqual(owned, {
        apiVersion: 'registry.berth.dev/v1',
        kind: 'BerthRegistry',
        name: 'reg',
        uid: 'uid-1',
        controller: true,
        blockOwnerDeletion: true,
      });
  }
  const ing = find(res.objects, 'Ingress', 'reg') as any;
  assert.equal(ing.spec.rules[0].host, 'registry.example.com');
  assert.equal(ing.spec.tls[0].secretName, 'reg-tls');
  assert.equal(res.status.registryEndpoint, 'https://registry.example.com');
  assert.equal(cond(res.status, 'RolloutBlocked').status, 'False');
  assert.equal(cond(res.status, 'ComponentsCreated').status, 'True');
  assert.equal(cond(res.status, 'Available').status, 'False');
  assert.equal(cond(res.status, 'Available').reason, 'ComponentNotReady');
  assert.deepEqual(res.status.unhealthyComponents, ['berth', 'postgres', 'redis', 'scanner']);
  // The managed certificate is the one berth certs init makes: a CA and a server certificate for the names.
  const tlsSecret = find(res.objects, 'Secret', 'reg-tls') as any;
  assert.equal(tlsSecret.type, 'kubernetes.io/tls');
  assert.match(unb64(tlsSecret.data['tls.crt']), /BEGIN CERTIFICATE[\s\S]*BEGIN CERTIFICATE/);
  const { X509Certificate } = await import('node:crypto');
  const cert = new X509Certificate(unb64(tlsSecret.data['tls.crt']));
  for (const n of ['registry.example.com', 'reg.team.svc', 'reg.team.svc.cluster.local'])
    assert.ok(cert.checkHost(n), `certificate lacks ${n}`);
  assert.ok(cert.verify(new X509Certificate(unb64(tlsSecret.data['ca.crt'])).publicKey), 'signed by the CA');
});

test('every managed/unmanaged combination of the eight components reconciles to valid objects (256 cases)', async () => {
  let n = 0;
  for (let mask = 0; mask < 1 << COMPONENT_KINDS.length; mask++) {
    const unmanaged = COMPONENT_KINDS.filter((_, i) => mask & (1 << i));
    const res = reconcile(await input(registry({ components: components(unmanaged) }), bundleFor(unmanaged)));
    const label = `unmanaged: ${unmanaged.join(',') || 'none'}`;
    assert.equal(res.blocked, false, `${label}: ${cond(res.status, 'RolloutBlocked').message}`);
    const has = (kind: string, name: string) => !!find(res.objects, kind, name);
    const managed = (k: ComponentKind) => !unmanaged.includes(k);
    assert.equal(has('StatefulSet', 'reg-postgres'), managed('postgres'), label);
    assert.equal(has('Deployment', 'reg-redis'), managed('redis'), label);
    assert.equal(has('PersistentVolumeClaim', 'reg-storage'), managed('objectstorage'), label);
    assert.equal(has('Deployment', 'reg-scanner'), managed('scanner'), label);
    assert.equal(has('PrometheusRule', 'reg'), managed('monitoring'), label);
    assert.equal(has('Secret', 'reg-tls'), managed('tls'), label);
    assert.equal(has('Ingress', 'reg'), managed('ingress'), label);
    assert.equal(has('HorizontalPodAutoscaler', 'reg'), managed('horizontalpodautoscaler'), label);
    const cfg = effectiveConfig(res.objects);
    assert.deepEqual(validateConfig(cfg).problems, [], label);
    if (!managed('postgres')) assert.equal(cfg.DB_URI, 'postgresql://berth:pw@db.example.com:5432/berth', label);
    if (!managed('redis')) assert.equal(cfg.DATA_MODEL_CACHE_CONFIG.redis_config.primary.host, 'redis.example.com', label);
    if (!managed('tls')) assert.equal(cfg.TLS_CERT_FILE, '/etc/berth/config/ssl.cert', label);
    const dep = find(res.objects, 'Deployment', 'reg') as any;
    const vols = dep.spec.template.spec.volumes.map((v: { name: string }) => v.name);
    assert.equal(vols.includes('storage'), managed('objectstorage'), label);
    assert.equal(vols.includes('tls'), managed('tls'), label);
    assert.equal(dep.spec.replicas, managed('horizontalpodautoscaler') ? undefined : 2, label);
    // Schema validation of each object (the full set is validated for a sample of masks to keep this fast).
    if (mask % 17 === 0 || mask === 255) for (const o of res.objects) await validateObject(o);
    n++;
  }
  assert.equal(n, 256);
});

test('config errors block the rollout with a reason and a message that names the key, and produce no objects', async () => {
  const blockedBy = async (r: BerthRegistry, data: Record<string, string> | undefined, reason: string, re: RegExp) => {
    const res = reconcile(await input(r, data));
    assert.equal(res.blocked, true, `expected a block matching ${re}`);
    assert.deepEqual(res.objects, []);
    const rb = cond(res.status, 'RolloutBlocked');
    assert.equal(rb.status, 'True');
    assert.equal(rb.reason, reason);
    assert.match(rb.message, re);
    assert.equal(cond(res.status, 'ComponentsCreated').status, 'False');
  };
  await blockedBy(
    registry(),
    undefined,
    'ConfigBundleMissing',
    /Secret "bundle" \(spec.configBundleSecret\) does not exist in namespace team: create it with kubectl create secret generic bundle/,
  );
  await blockedBy(registry(), { 'other.yaml': b64('x: 1') }, 'ConfigInvalid', /has no key config.yaml \(it has: other.yaml\)/);
  await blockedBy(registry(), { 'config.yaml': b64('SERVER_HOSTNAME: [unclosed') }, 'ConfigInvalid', /not valid YAML/);
  await blockedBy(registry(), { 'config.yaml': b64('- a\n- b\n') }, 'ConfigInvalid', /top level must be a mapping/);
  await blockedBy(
    registry({ components: components(['postgres']) }),
    bundle({ SERVER_HOSTNAME: 'r.example' }),
    'ConfigInvalid',
    /component postgres is unmanaged .* must set DB_URI/,
  );
  await blockedBy(
    registry({ components: components(['redis']) }),
    bundle({ SERVER_HOSTNAME: 'r.example' }),
    'ConfigInvalid',
    /must set DATA_MODEL_CACHE_CONFIG/,
  );
  await blockedBy(
    registry({ components: components(['objectstorage']) }),
    bundle({ SERVER_HOSTNAME: 'r.example' }),
    'ConfigInvalid',
    /must set DISTRIBUTED_STORAGE_CONFIG/,
  );
  await blockedBy(
    registry({ components: components(['tls']) }),
    bundle({ SERVER_HOSTNAME: 'r.example' }),
    'ConfigInvalid',
    /component tls is unmanaged .* must hold ssl.cert/,
  );
  await blockedBy(
    registry(),
    bundle({ SERVER_HOSTNAME: 'r.example', DB_URI: 'postgresql://x@y/z' }),
    'ConfigInvalid',
    /component postgres is managed, so the operator provides DB_URI: remove DB_URI/,
  );
  await blockedBy(
    registry(),
    bundle({ SERVER_HOSTNAME: 'r.example', SECURITY_SCANNER_V4_ENDPOINT: 'http://clair:6060' }),
    'ConfigInvalid',
    /scanner is managed.*SECURITY_SCANNER_V4_ENDPOINT/,
  );
  await blockedBy(registry(), bundle({}), 'ConfigInvalid', /ingress is managed, so config.yaml must set SERVER_HOSTNAME/);
  // What berth config validate says, with the field path.
  await blockedBy(
    registry(),
    bundle({ SERVER_HOSTNAME: 'r.example', PREFERRED_URL_SCHEME: 'ftp' }),
    'ConfigInvalid',
    /config.yaml in Secret "bundle": PREFERRED_URL_SCHEME: /,
  );
  await blockedBy(
    registry(),
    bundle({ SERVER_HOSTNAME: 'r.example', MAXIMUM_MANIFEST_SIZE: 'big' }),
    'ConfigInvalid',
    /MAXIMUM_MANIFEST_SIZE/,
  );
  await blockedBy(
    registry({
      components: [
        { kind: 'redis', managed: true },
        { kind: 'redis', managed: false },
      ],
    }),
    bundleFor([]),
    'ConfigInvalid',
    /lists redis twice/,
  );
  await blockedBy(
    registry({
      components: [
        {
          kind: 'scanner',
          managed: true,
          overrides: { airgap: true, airgapBundle: { url: 'https://x/b', configMap: { name: 'a', key: 'b' } } },
        },
      ],
    }),
    bundleFor([]),
    'ConfigInvalid',
    /exactly one source .* not 2/,
  );
  await blockedBy(
    registry({ components: [{ kind: 'redis', managed: false, overrides: { replicas: 2 } }] }),
    bundleFor(['redis']),
    'ConfigInvalid',
    /overrides need managed: true/,
  );
  // Problems are all listed, not just the first.
  const res = reconcile(await input(registry({ components: components(['postgres', 'redis']) }), bundle({ SERVER_HOSTNAME: 'r.example' })));
  assert.match(cond(res.status, 'RolloutBlocked').message, /DB_URI.*; .*DATA_MODEL_CACHE_CONFIG/);
});

test("unmanaged S3 storage: the bundle's S3Storage entry reaches Berth as written (blocked only when berth config validate rejects it)", async () => {
  const cfg = {
    SERVER_HOSTNAME: 'r.example',
    DISTRIBUTED_STORAGE_CONFIG: {
      s3: [
        'S3Storage',
        { s3_bucket: 'berth', storage_path: '/registry', s3_access_key: 'AK', s3_secret_key: 'SK', host: 's3.example.com' },
      ],
    },
    DISTRIBUTED_STORAGE_PREFERENCE: ['s3'],
  };
  const res = reconcile(await input(registry({ components: components(['objectstorage']) }), bundle(cfg)));
  const problems = validateConfig(cfg).problems;
  assert.equal(res.blocked, problems.length > 0);
  if (res.blocked) assert.match(cond(res.status, 'RolloutBlocked').message, /DISTRIBUTED_STORAGE_CONFIG/);
  else assert.deepEqual(effectiveConfig(res.objects).DISTRIBUTED_STORAGE_CONFIG, cfg.DISTRIBUTED_STORAGE_CONFIG);
});

test('a blocked rollout keeps reporting the running registry: Available from the observed Deployment, the old version', async () => {
  const running: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reg', namespace: 'team', generation: 3, labels: { 'app.kubernetes.io/version': '0.9.0' } },
    spec: { replicas: 2 },
    status: { observedGeneration: 3, availableReplicas: 2, updatedReplicas: 2 },
  };
  const r = registry({ components: components(['postgres', 'redis', 'scanner']) }, { currentVersion: '0.9.0', conditions: [] });
  const res = reconcile(
    await input(r, bundle({ SERVER_HOSTNAME: 'r.example' }), { observed: { [observedKey('Deployment', 'reg')]: running } }),
  );
  assert.equal(res.blocked, true);
  assert.equal(cond(res.status, 'Available').status, 'True');
  assert.match(cond(res.status, 'Available').message, /running version is unchanged/);
  assert.equal(res.status.currentVersion, '0.9.0');
});

test('storage that cannot be shared refuses more than one Berth replica with StorageNotShareable', async () => {
  const data = bundleFor(['horizontalpodautoscaler']);
  const rwo = { kind: 'objectstorage' as const, managed: true, overrides: { volumeAccessMode: 'ReadWriteOnce' as const } };
  // Asked for ReadWriteOnce: one replica by default, three refused.
  let res = reconcile(await input(registry({ components: components(['horizontalpodautoscaler'], [rwo]) }), data));
  assert.equal(res.blocked, false);
  assert.equal((find(res.objects, 'Deployment', 'reg') as any).spec.replicas, 1);
  res = reconcile(
    await input(
      registry({
        components: components(['horizontalpodautoscaler'], [rwo, { kind: 'berth', managed: true, overrides: { replicas: 3 } }]),
      }),
      data,
    ),
  );
  assert.equal(res.blocked, true);
  assert.equal(cond(res.status, 'RolloutBlocked').reason, 'StorageNotShareable');
  assert.match(
    cond(res.status, 'RolloutBlocked').message,
    /3 Berth replicas were asked for, but the managed object storage cannot be shared: objectstorage overrides.volumeAccessMode is ReadWriteOnce/,
  );
  // Asked for ReadWriteMany but the storage class bound it ReadWriteOnce.
  const boundRwo: K8sObject = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'reg-storage' },
    status: { phase: 'Bound', accessModes: ['ReadWriteOnce'] },
  };
  const observed = { [observedKey('PersistentVolumeClaim', 'reg-storage')]: boundRwo };
  res = reconcile(await input(registry({ components: components(['horizontalpodautoscaler']) }), data, { observed }));
  assert.equal(res.blocked, false, 'no replica count asked for: one');
  assert.equal((find(res.objects, 'Deployment', 'reg') as any).spec.replicas, 1);
  res = reconcile(
    await input(
      registry({ components: components(['horizontalpodautoscaler'], [{ kind: 'berth', managed: true, overrides: { replicas: 3 } }]) }),
      data,
      { observed },
    ),
  );
  assert.equal(res.blocked, true);
  assert.match(cond(res.status, 'RolloutBlocked').message, /bound without ReadWriteMany \(access modes: ReadWriteOnce\)/);
  // The HPA could scale past one: refused too.
  res = reconcile(await input(registry({ components: [rwo] }), bundleFor([])));
  assert.equal(res.blocked, true);
  assert.match(cond(res.status, 'RolloutBlocked').message, /HorizontalPodAutoscaler may scale Berth to 20 replicas/);
  // Bound ReadWriteMany: fine.
  const boundRwx = { ...boundRwo, status: { phase: 'Bound', accessModes: ['ReadWriteMany'] } };
  res = reconcile(
    await input(registry(), bundleFor([]), { observed: { [observedKey('PersistentVolumeClaim', 'reg-storage')]: boundRwx } }),
  );
  assert.equal(res.blocked, false);
});

test("idempotence: a second reconcile with the first one's status changes nothing, even later", async () => {
  for (const unmanaged of [[], ['postgres', 'redis', 'objectstorage'], ['tls', 'ingress', 'monitoring']] as ComponentKind[][]) {
    const first = reconcile(await input(registry({ components: components(unmanaged) }), bundleFor(unmanaged)));
    const second = reconcile(
      await input(registry({ components: components(unmanaged) }, first.status), bundleFor(unmanaged), { now: '2026-01-02T00:00:00Z' }),
    );
    assert.deepEqual(second.objects, first.objects);
    assert.deepEqual(second.status, first.status);
  }
});

test('a config change rolls the pods (new checksum); a replica change does not touch the checksum', async () => {
  const a = reconcile(await input(registry(), bundle({ SERVER_HOSTNAME: 'r.example', FEATURE_USER_CREATION: true })));
  const b = reconcile(await input(registry(), bundle({ SERVER_HOSTNAME: 'r.example', FEATURE_USER_CREATION: false })));
  const c = reconcile(
    await input(
      registry({
        components: [
          { kind: 'berth', managed: true, overrides: { replicas: 5 } },
          { kind: 'horizontalpodautoscaler', managed: false },
        ],
      }),
      bundle({ SERVER_HOSTNAME: 'r.example', FEATURE_USER_CREATION: true }),
    ),
  );
  const sum = (res: typeof a, name = 'reg') =>
    (find(res.objects, 'Deployment', name) as any).spec.template.metadata.annotations[CHECKSUM_ANNOTATION];
  assert.notEqual(sum(a), sum(b));
  assert.equal(sum(a), sum(c));
  assert.equal((find(c.objects, 'Deployment', 'reg') as any).spec.replicas, 5);
  assert.notEqual(sum(a, 'reg-scanner'), sum(b, 'reg-scanner'), 'the scanner runs the same config and rolls too');
});

test('upgrades: a new version changes the image; currentVersion follows only once the new Deployment is available', async () => {
  const v1 = reconcile(await input(registry(), bundleFor([]), { version: '1.0.0' }));
  const img = (res: typeof v1) => (find(res.objects, 'Deployment', 'reg') as any).spec.template.spec.containers[0].image;
  assert.equal(img(v1), images.berth);
  const up = reconcile(
    await input(registry({}, { currentVersion: '1.0.0', conditions: v1.status.conditions }), bundleFor([]), {
      version: '1.1.0',
      images: { ...images, berth: 'registry.example/berth:1.1.0' },
    }),
  );
  assert.equal(img(up), 'registry.example/berth:1.1.0');
  assert.equal((find(up.objects, 'Deployment', 'reg') as any).metadata.labels['app.kubernetes.io/version'], '1.1.0');
  assert.equal(up.status.currentVersion, '1.0.0', 'still the old version while the rollout runs');
  const rolling: K8sObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'reg', generation: 2, labels: { 'app.kubernetes.io/version': '1.1.0' } },
    spec: { replicas: 2 },
    status: { observedGeneration: 2, availableReplicas: 2, updatedReplicas: 1 },
  };
  const ready = (name: string, kind = 'Deployment'): K8sObject => ({
    apiVersion: 'apps/v1',
    kind,
    metadata: { name, generation: 1 },
    spec: { replicas: 1 },
    status: { observedGeneration: 1, availableReplicas: 1, readyReplicas: 1, updatedReplicas: 1 },
  });
  const others = {
    [observedKey('Deployment', 'reg-redis')]: ready('reg-redis'),
    [observedKey('Deployment', 'reg-scanner')]: ready('reg-scanner'),
    [observedKey('StatefulSet', 'reg-postgres')]: ready('reg-postgres', 'StatefulSet'),
  };
  let res = reconcile(
    await input(registry({}, up.status), bundleFor([]), {
      version: '1.1.0',
      observed: { ...others, [observedKey('Deployment', 'reg')]: rolling },
    }),
  );
  assert.equal(res.status.currentVersion, '1.0.0');
  assert.deepEqual(res.status.unhealthyComponents, ['berth']);
  assert.match(cond(res.status, 'Available').message, /berth \(Deployment reg: 2\/2 ready, rollout in progress\)/);
  res = reconcile(
    await input(registry({}, res.status), bundleFor([]), {
      version: '1.1.0',
      observed: {
        ...others,
        [observedKey('Deployment', 'reg')]: { ...rolling, status: { observedGeneration: 2, availableReplicas: 2, updatedReplicas: 2 } },
      },
    }),
  );
  assert.equal(res.status.currentVersion, '1.1.0');
  assert.equal(cond(res.status, 'Available').status, 'True');
  assert.deepEqual(res.status.unhealthyComponents, []);
});

test('spec.fips: the FIPS image, node --enable-fips with its OpenSSL config, FEATURE_FIPS in the config', async () => {
  const res = reconcile(await input(registry({ fips: true }), bundleFor([])));
  assert.equal(res.blocked, false);
  const c = (find(res.objects, 'Deployment', 'reg') as any).spec.template.spec.containers[0];
  assert.equal(c.image, images.berthFips);
  assert.deepEqual(c.command, ['node', '--enable-fips', '/opt/berth/bin/berth.js']);
  assert.deepEqual(c.args, ['serve', '--fips', '--config', '/etc/berth/config/config.yaml']);
  assert.ok(c.env.some((e: { name: string; value: string }) => e.name === 'OPENSSL_CONF' && e.value === '/etc/berth-fips/openssl.cnf'));
  assert.equal(effectiveConfig(res.objects).FEATURE_FIPS, true);
  // A cipher FIPS refuses is a config error in FIPS mode (berth config validate's FIPS rules).
  const bad = reconcile(
    await input(registry({ fips: true }), bundle({ SERVER_HOSTNAME: 'r.example', SSL_CIPHERS: ['CHACHA20-POLY1305'] })),
  );
  assert.equal(bad.blocked, true);
  assert.match(cond(bad.status, 'RolloutBlocked').message, /SSL_CIPHERS|CHACHA20/);
});

test('the air-gapped scanner: SCANNER_AIRGAP on, and an import Job per bundle source (Secret, ConfigMap, PVC, URL)', async () => {
  const sources = [
    [{ secret: { name: 'vuln-bundle', key: 'bundle.ndjson.zst' } }, '/bundle/bundle'],
    [{ configMap: { name: 'vuln-bundle', key: 'bundle' } }, '/bundle/bundle'],
    [{ persistentVolumeClaim: { claimName: 'bundles', path: '/2026-01/bundle.zst' } }, '/bundle/2026-01/bundle.zst'],
    [{ url: 'https://mirror.internal/berth/bundle.zst' }, 'https://mirror.internal/berth/bundle.zst'],
  ] as const;
  const names = new Set<string>();
  for (const [src, arg] of sources) {
    const res = reconcile(
      await input(
        registry({ components: [{ kind: 'scanner', managed: true, overrides: { airgap: true, airgapBundle: src } }] }),
        bundleFor([]),
      ),
    );
    assert.equal(res.blocked, false, cond(res.status, 'RolloutBlocked').message);
    assert.equal(effectiveConfig(res.objects).SCANNER_AIRGAP, true);
    const job = res.objects.find((o) => o.kind === 'Job') as any;
    await validateObject(job);
    assert.match(job.metadata.name, /^reg-scanner-import-[0-9a-f]{10}$/);
    names.add(job.metadata.name);
    const c = job.spec.template.spec.containers[0];
    assert.deepEqual(c.args, ['scanner', 'import-updaters', arg, '--config', '/etc/berth/config/config.yaml']);
    assert.equal(job.metadata.ownerReferences[0].kind, 'BerthRegistry');
  }
  assert.equal(names.size, 4, 'a new source gets a new Job');
  const plain = reconcile(
    await input(registry({ components: [{ kind: 'scanner', managed: true, overrides: { airgap: true } }] }), bundleFor([])),
  );
  assert.equal(
    plain.objects.some((o) => o.kind === 'Job'),
    false,
    'airgap without a bundle source: no Job yet',
  );
});

test("monitoring: the PrometheusRule holds deploy/monitoring's rules; the dashboard ConfigMap is labelled for Grafana and the OpenShift console", async () => {
  const res = reconcile(await input(registry(), bundleFor([])));
  const rule = find(res.objects, 'PrometheusRule', 'reg') as any;
  const groups = parse(readFileSync(path.join(ROOT, 'deploy/monitoring/prometheus-rules.yaml'), 'utf8')).groups;
  assert.deepEqual(rule.spec.groups, groups);
  assert.ok(
    groups
      .flatMap((g: { rules: { alert?: string }[] }) => g.rules)
      .some((r: { alert?: string }) => r.alert === 'QuayPodFrequentlyRestarting'),
  );
  const cm = find(res.objects, 'ConfigMap', 'reg-grafana-dashboard') as any;
  assert.equal(cm.metadata.labels.grafana_dashboard, '1');
  assert.equal(cm.metadata.labels['console.openshift.io/dashboard'], 'true');
  assert.equal(
    JSON.parse(cm.data['berth.json']).title,
    JSON.parse(readFileSync(path.join(ROOT, 'deploy/monitoring/grafana-dashboard.json'), 'utf8')).title,
  );
  const sm = find(res.objects, 'ServiceMonitor', 'reg') as any;
  const svc = find(res.objects, 'Service', 'reg-metrics') as any;
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v);
  assert.equal(sm.spec.jobLabel, 'registry.berth.dev/job');
  assert.match(svc.metadata.labels[sm.spec.jobLabel], /^berth/, 'the job label must match the rules\' job=~"berth.*"');
});

test('spec.deleteDatabaseVolume: the PostgreSQL volume and password are owned (deleted with the registry) only when asked', async () => {
  const res = reconcile(await input(registry({ deleteDatabaseVolume: true }), bundleFor([])));
  assert.equal(find(res.objects, 'PersistentVolumeClaim', 'reg-postgres-data')!.metadata.ownerReferences?.[0].uid, 'uid-1');
  assert.equal(find(res.objects, 'Secret', 'reg-postgres')!.metadata.ownerReferences?.[0].uid, 'uid-1');
});
