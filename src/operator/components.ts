// One builder per managed component: the objects it needs and the config.yaml keys it provides to Berth.
// Pure functions of the BerthRegistry, the generated secrets and the images.
import { stringify } from 'yaml';
import { hashHex } from '../crypto/index.js';
import { containerSecurityContext, encode, object, podSecurityContext, selector, withOverrides } from './objects.js';
import type { AirgapBundleSource, BerthRegistry, ComponentOverrides, K8sObject } from './types.js';

export interface Images {
  berth: string;
  berthFips: string;
  postgres: string;
  redis: string;
}

/** Values the runner generated once (or read back from the Secrets that hold them). */
export interface Generated {
  postgresPassword: string;
  redisPassword: string;
  /** base64 HS256 key between Berth and the managed scanner. */
  scannerPsk: string;
  databaseSecretKey: string;
  tls?: { caCrt: string; caKey: string; tlsCrt: string; tlsKey: string; names: string[] };
}

export const PATHS = {
  config: '/etc/berth/config',
  tls: '/etc/berth/tls',
  data: '/var/lib/berth/data',
  storage: '/var/lib/berth/storage',
} as const;
export const BERTH_PORT = 8080;
export const METRICS_PORT = 9091;
export const SCANNER_PORT = 6060;

export const names = (r: BerthRegistry) => {
  const n = r.metadata.name;
  return {
    berth: n,
    config: `${n}-config`,
    keys: `${n}-keys`,
    storage: `${n}-storage`,
    postgres: `${n}-postgres`,
    postgresData: `${n}-postgres-data`,
    redis: `${n}-redis`,
    scanner: `${n}-scanner`,
    tls: `${n}-tls`,
    metrics: `${n}-metrics`,
    dashboard: `${n}-grafana-dashboard`,
  };
};

const svcHost = (r: BerthRegistry, name: string) => `${name}.${r.metadata.namespace}.svc`;

function secret(
  r: BerthRegistry,
  name: string,
  component: string,
  data: Record<string, string>,
  opts: { owned?: boolean; annotations?: Record<string, string> } = {},
): K8sObject {
  return object(
    r,
    'v1',
    'Secret',
    name,
    component,
    { type: 'Opaque', data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, encode(v)])) },
    opts,
  );
}

function service(
  r: BerthRegistry,
  name: string,
  component: string,
  ports: { name: string; port: number; targetPort: number }[],
  extraLabels?: Record<string, string>,
): K8sObject {
  return object(
    r,
    'v1',
    'Service',
    name,
    component,
    {
      spec: { selector: selector(r, component), ports: ports.map((p) => ({ ...p, protocol: 'TCP' })) },
    },
    { extraLabels },
  );
}

function pvc(
  r: BerthRegistry,
  name: string,
  component: string,
  size: string,
  accessMode: string,
  storageClassName: string | undefined,
  owned: boolean,
): K8sObject {
  return object(
    r,
    'v1',
    'PersistentVolumeClaim',
    name,
    component,
    {
      spec: { accessModes: [accessMode], resources: { requests: { storage: size } }, ...(storageClassName ? { storageClassName } : {}) },
    },
    { owned },
  );
}

// ---- postgres: StatefulSet, PVC (kept on delete unless spec.deleteDatabaseVolume), Service, password Secret ----

export function postgres(
  r: BerthRegistry,
  g: Generated,
  images: Images,
  o: ComponentOverrides | undefined,
): { objects: K8sObject[]; config: Record<string, unknown> } {
  const n = names(r);
  const keep = !r.spec.deleteDatabaseVolume;
  const container = withOverrides(
    {
      name: 'postgres',
      image: images.postgres,
      env: [
        { name: 'POSTGRES_USER', valueFrom: { secretKeyRef: { name: n.postgres, key: 'POSTGRES_USER' } } },
        { name: 'POSTGRES_PASSWORD', valueFrom: { secretKeyRef: { name: n.postgres, key: 'POSTGRES_PASSWORD' } } },
        { name: 'POSTGRES_DB', valueFrom: { secretKeyRef: { name: n.postgres, key: 'POSTGRES_DB' } } },
        { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
      ],
      ports: [{ name: 'postgres', containerPort: 5432, protocol: 'TCP' }],
      readinessProbe: { exec: { command: ['pg_isready', '-U', 'berth', '-d', 'berth'] }, periodSeconds: 10 },
      volumeMounts: [
        { name: 'data', mountPath: '/var/lib/postgresql/data' },
        { name: 'run', mountPath: '/var/run/postgresql' },
        { name: 'tmp', mountPath: '/tmp' },
      ],
      securityContext: { ...containerSecurityContext, runAsUser: 999, runAsGroup: 999 },
    },
    o,
  );
  const objects = [
    // The password lives as long as the volume: a kept database must still open with it.
    secret(
      r,
      n.postgres,
      'postgres',
      { POSTGRES_USER: 'berth', POSTGRES_PASSWORD: g.postgresPassword, POSTGRES_DB: 'berth' },
      { owned: !keep },
    ),
    pvc(r, n.postgresData, 'postgres', o?.volumeSize ?? '50Gi', 'ReadWriteOnce', o?.storageClassName, !keep),
    service(r, n.postgres, 'postgres', [{ name: 'postgres', port: 5432, targetPort: 5432 }]),
    object(r, 'apps/v1', 'StatefulSet', n.postgres, 'postgres', {
      spec: {
        replicas: 1,
        serviceName: n.postgres,
        selector: { matchLabels: selector(r, 'postgres') },
        template: {
          metadata: { labels: { ...selector(r, 'postgres'), 'app.kubernetes.io/name': 'berth' } },
          spec: {
            securityContext: { ...podSecurityContext, fsGroup: 999 },
            containers: [container],
            volumes: [
              { name: 'data', persistentVolumeClaim: { claimName: n.postgresData } },
              { name: 'run', emptyDir: {} },
              { name: 'tmp', emptyDir: {} },
            ],
          },
        },
      },
    }),
  ];
  const uri = `postgresql://berth:${encodeURIComponent(g.postgresPassword)}@${svcHost(r, n.postgres)}:5432/berth`;
  return { objects, config: { DB_URI: uri } };
}

// ---- redis: Deployment and Service, a password ----

export function redis(
  r: BerthRegistry,
  g: Generated,
  images: Images,
  o: ComponentOverrides | undefined,
): { objects: K8sObject[]; config: Record<string, unknown> } {
  const n = names(r);
  const container = withOverrides(
    {
      name: 'redis',
      image: images.redis,
      args: ['redis-server', '--requirepass', '$(REDIS_PASSWORD)', '--save', '', '--appendonly', 'no'],
      env: [{ name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: n.redis, key: 'password' } } }],
      ports: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
      readinessProbe: { tcpSocket: { port: 6379 }, periodSeconds: 10 },
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
      securityContext: { ...containerSecurityContext, runAsUser: 999, runAsGroup: 999 },
    },
    o,
  );
  const objects = [
    secret(r, n.redis, 'redis', { password: g.redisPassword }),
    service(r, n.redis, 'redis', [{ name: 'redis', port: 6379, targetPort: 6379 }]),
    object(r, 'apps/v1', 'Deployment', n.redis, 'redis', {
      spec: {
        replicas: 1,
        selector: { matchLabels: selector(r, 'redis') },
        template: {
          metadata: { labels: { ...selector(r, 'redis'), 'app.kubernetes.io/name': 'berth' } },
          spec: { securityContext: podSecurityContext, containers: [container], volumes: [{ name: 'data', emptyDir: {} }] },
        },
      },
    }),
  ];
  const config = {
    DATA_MODEL_CACHE_CONFIG: {
      engine: 'redis',
      redis_config: { primary: { host: svcHost(r, n.redis), port: 6379, password: g.redisPassword, ssl: false } },
    },
  };
  return { objects, config };
}

// ---- objectstorage: a ReadWriteMany PVC with LocalStorage ----

export function objectStorage(
  r: BerthRegistry,
  o: ComponentOverrides | undefined,
): { objects: K8sObject[]; config: Record<string, unknown>; accessMode: string } {
  const accessMode = o?.volumeAccessMode ?? 'ReadWriteMany';
  return {
    objects: [pvc(r, names(r).storage, 'objectstorage', o?.volumeSize ?? '50Gi', accessMode, o?.storageClassName, true)],
    config: {
      DISTRIBUTED_STORAGE_CONFIG: { default: ['LocalStorage', { storage_path: PATHS.storage }] },
      DISTRIBUTED_STORAGE_PREFERENCE: ['default'],
    },
    accessMode,
  };
}

// ---- tls: a CA and a server certificate (berth certs init's code, run by the runner) ----

export function tls(r: BerthRegistry, g: Generated): { objects: K8sObject[]; config: Record<string, unknown> } {
  if (!g.tls) throw new Error('tls is managed but no certificate was generated');
  return {
    objects: [
      object(
        r,
        'v1',
        'Secret',
        names(r).tls,
        'tls',
        {
          type: 'kubernetes.io/tls',
          data: {
            'ca.crt': encode(g.tls.caCrt),
            'ca.key': encode(g.tls.caKey),
            'tls.crt': encode(g.tls.tlsCrt),
            'tls.key': encode(g.tls.tlsKey),
          },
        },
        { annotations: { 'registry.berth.dev/tls-names': g.tls.names.join(',') } },
      ),
    ],
    config: { PREFERRED_URL_SCHEME: 'https', TLS_CERT_FILE: `${PATHS.tls}/tls.crt`, TLS_KEY_FILE: `${PATHS.tls}/tls.key` },
  };
}

/** The names the managed certificate covers: SERVER_HOSTNAME's host and the Service's cluster names. */
export function tlsNames(r: BerthRegistry, serverHostname: unknown): string[] {
  const n = names(r).berth;
  const ns = r.metadata.namespace;
  const host = typeof serverHostname === 'string' ? serverHostname.replace(/:\d+$/, '') : '';
  return [...new Set([host, n, `${n}.${ns}`, `${n}.${ns}.svc`, `${n}.${ns}.svc.cluster.local`].filter(Boolean))];
}

// ---- scanner: `berth scanner serve` as its own Deployment and Service; air-gapped import Job ----

export function scanner(
  r: BerthRegistry,
  g: Generated,
  image: BerthImage,
  o: ComponentOverrides | undefined,
  configChecksum: string,
): { objects: K8sObject[]; config: Record<string, unknown> } {
  const n = names(r);
  const container = withOverrides(
    {
      name: 'scanner',
      image: image.image,
      command: image.command,
      args: [...image.argsPrefix, 'scanner', 'serve', '--config', `${PATHS.config}/config.yaml`, '--listen', `0.0.0.0:${SCANNER_PORT}`],
      env: image.env,
      ports: [
        { name: 'scanner', containerPort: SCANNER_PORT, protocol: 'TCP' },
        { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
      ],
      readinessProbe: { tcpSocket: { port: SCANNER_PORT }, periodSeconds: 10 },
      volumeMounts: [...baseMounts()],
      securityContext: containerSecurityContext,
    },
    o,
  );
  const objects: K8sObject[] = [
    service(r, n.scanner, 'scanner', [
      { name: 'scanner', port: SCANNER_PORT, targetPort: SCANNER_PORT },
      { name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT },
    ]),
    object(
      r,
      'apps/v1',
      'Deployment',
      n.scanner,
      'scanner',
      {
        spec: {
          replicas: o?.replicas ?? 1,
          selector: { matchLabels: selector(r, 'scanner') },
          template: {
            metadata: {
              labels: { ...selector(r, 'scanner'), 'app.kubernetes.io/name': 'berth' },
              annotations: { 'registry.berth.dev/config-checksum': configChecksum },
            },
            spec: { securityContext: podSecurityContext, containers: [container], volumes: baseVolumes(r) },
          },
        },
      },
      { version: image.version },
    ),
  ];
  if (o?.airgap && o.airgapBundle) objects.push(importJob(r, image, o.airgapBundle));
  return {
    objects,
    config: {
      SECURITY_SCANNER_V4_ENDPOINT: `http://${svcHost(r, n.scanner)}:${SCANNER_PORT}`,
      SECURITY_SCANNER_V4_PSK: g.scannerPsk,
      ...(o?.airgap ? { SCANNER_AIRGAP: true } : {}),
    },
  };
}

/** The Job that runs `berth scanner import-updaters` on the bundle; its name changes with the source, so a new bundle runs a new Job. */
export function importJob(r: BerthRegistry, image: BerthImage, src: AirgapBundleSource): K8sObject {
  const n = names(r);
  const volumes: Record<string, unknown>[] = [...baseVolumes(r)];
  const mounts: Record<string, unknown>[] = [...baseMounts()];
  let input: string;
  if (src.secret) {
    volumes.push({ name: 'bundle', secret: { secretName: src.secret.name, items: [{ key: src.secret.key, path: 'bundle' }] } });
    mounts.push({ name: 'bundle', mountPath: '/bundle', readOnly: true });
    input = '/bundle/bundle';
  } else if (src.configMap) {
    volumes.push({ name: 'bundle', configMap: { name: src.configMap.name, items: [{ key: src.configMap.key, path: 'bundle' }] } });
    mounts.push({ name: 'bundle', mountPath: '/bundle', readOnly: true });
    input = '/bundle/bundle';
  } else if (src.persistentVolumeClaim) {
    volumes.push({ name: 'bundle', persistentVolumeClaim: { claimName: src.persistentVolumeClaim.claimName, readOnly: true } });
    mounts.push({ name: 'bundle', mountPath: '/bundle', readOnly: true });
    input = `/bundle/${src.persistentVolumeClaim.path.replace(/^\/+/, '')}`;
  } else if (src.url) {
    input = src.url;
  } else {
    throw new Error('airgapBundle names no source');
  }
  const id = hashHex('sha256', JSON.stringify([src, image.image])).slice(0, 10);
  return object(
    r,
    'batch/v1',
    'Job',
    `${n.scanner}-import-${id}`,
    'scanner-import',
    {
      spec: {
        backoffLimit: 4,
        template: {
          metadata: { labels: { ...selector(r, 'scanner-import'), 'app.kubernetes.io/name': 'berth' } },
          spec: {
            restartPolicy: 'OnFailure',
            securityContext: podSecurityContext,
            containers: [
              {
                name: 'import',
                image: image.image,
                command: image.command,
                env: image.env,
                args: [...image.argsPrefix, 'scanner', 'import-updaters', input, '--config', `${PATHS.config}/config.yaml`],
                volumeMounts: mounts,
                securityContext: containerSecurityContext,
              },
            ],
            volumes,
          },
        },
      },
    },
    { version: image.version },
  );
}

// ---- Berth itself: the image and its command line (FIPS: node --enable-fips with the image's OpenSSL config) ----

export interface BerthImage {
  image: string;
  version: string;
  command?: string[];
  argsPrefix: string[];
  env: { name: string; value: string }[];
}

export function berthImage(r: BerthRegistry, images: Images, version: string): BerthImage {
  if (!r.spec.fips) return { image: images.berth, version, argsPrefix: [], env: [] };
  return {
    image: images.berthFips,
    version,
    // Containerfile.fips: /etc/berth-fips/openssl.cnf activates the FIPS provider; --enable-fips must reach node itself.
    command: ['node', '--enable-fips', '/opt/berth/bin/berth.js'],
    argsPrefix: [],
    env: [
      { name: 'OPENSSL_CONF', value: '/etc/berth-fips/openssl.cnf' },
      { name: 'FEATURE_FIPS', value: 'true' },
    ],
  };
}

function baseVolumes(r: BerthRegistry): Record<string, unknown>[] {
  return [
    { name: 'config', secret: { secretName: names(r).config } },
    { name: 'data', emptyDir: {} },
    { name: 'tmp', emptyDir: {} },
  ];
}
function baseMounts(): Record<string, unknown>[] {
  return [
    { name: 'config', mountPath: PATHS.config, readOnly: true },
    { name: 'data', mountPath: PATHS.data },
    { name: 'tmp', mountPath: '/tmp' },
  ];
}

export interface BerthOptions {
  image: BerthImage;
  replicas?: number;
  overrides?: ComponentOverrides;
  tlsSecret?: string;
  storagePvc?: string;
  configChecksum: string;
  https: boolean;
}

export function berth(r: BerthRegistry, opt: BerthOptions): K8sObject[] {
  const n = names(r);
  const volumes = baseVolumes(r);
  const mounts = baseMounts();
  if (opt.tlsSecret) {
    volumes.push({ name: 'tls', secret: { secretName: opt.tlsSecret } });
    mounts.push({ name: 'tls', mountPath: PATHS.tls, readOnly: true });
  }
  if (opt.storagePvc) {
    volumes.push({ name: 'storage', persistentVolumeClaim: { claimName: opt.storagePvc } });
    mounts.push({ name: 'storage', mountPath: PATHS.storage });
  }
  const container = withOverrides(
    {
      name: 'berth',
      image: opt.image.image,
      command: opt.image.command,
      args: [...opt.image.argsPrefix, 'serve', ...(r.spec.fips ? ['--fips'] : []), '--config', `${PATHS.config}/config.yaml`],
      env: opt.image.env,
      ports: [
        { name: opt.https ? 'https' : 'http', containerPort: BERTH_PORT, protocol: 'TCP' },
        { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
      ],
      readinessProbe: { tcpSocket: { port: BERTH_PORT }, periodSeconds: 10 },
      livenessProbe: { tcpSocket: { port: BERTH_PORT }, periodSeconds: 20, failureThreshold: 6 },
      volumeMounts: mounts,
      securityContext: containerSecurityContext,
    },
    opt.overrides,
  );
  if (!container.command) delete container.command;
  return [
    service(r, n.berth, 'registry', [{ name: opt.https ? 'https' : 'http', port: opt.https ? 443 : 80, targetPort: BERTH_PORT }]),
    object(
      r,
      'apps/v1',
      'Deployment',
      n.berth,
      'registry',
      {
        spec: {
          ...(opt.replicas !== undefined ? { replicas: opt.replicas } : {}),
          selector: { matchLabels: selector(r, 'registry') },
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
          template: {
            metadata: {
              labels: { ...selector(r, 'registry'), 'app.kubernetes.io/name': 'berth' },
              annotations: { 'registry.berth.dev/config-checksum': opt.configChecksum },
            },
            spec: { securityContext: podSecurityContext, containers: [container], volumes, terminationGracePeriodSeconds: 45 },
          },
        },
      },
      { version: opt.image.version },
    ),
  ];
}

/** The effective config Secret: config.yaml (bundle merged with what managed components provide) and the bundle's other files. */
export function configSecret(
  r: BerthRegistry,
  config: Record<string, unknown>,
  files: Record<string, string>,
): { secret: K8sObject; checksum: string } {
  const data: Record<string, string> = { ...files, 'config.yaml': encode(stringify(config, { lineWidth: 0, sortMapEntries: true })) };
  const sorted = Object.keys(data)
    .sort()
    .map((k) => [k, data[k]]);
  const checksum = hashHex('sha256', JSON.stringify(sorted));
  return { secret: object(r, 'v1', 'Secret', names(r).config, 'registry', { type: 'Opaque', data }), checksum };
}

export function keysSecret(r: BerthRegistry, g: Generated): K8sObject {
  return secret(r, names(r).keys, 'registry', { DATABASE_SECRET_KEY: g.databaseSecretKey, SECURITY_SCANNER_V4_PSK: g.scannerPsk });
}

// ---- monitoring: PrometheusRule, ServiceMonitor + metrics Service, Grafana dashboard ConfigMap ----

export interface Assets {
  ruleGroups: unknown[];
  dashboardJson: string;
}

export function monitoring(
  r: BerthRegistry,
  assets: Assets,
  scannerManaged: boolean,
): { objects: K8sObject[]; config: Record<string, unknown> } {
  const n = names(r);
  // The ServiceMonitor takes the `job` label from registry.berth.dev/job: the alert rules select job=~"berth.*".
  const metricsLabels = { 'registry.berth.dev/metrics': 'true', 'registry.berth.dev/job': 'berth' };
  const objects: K8sObject[] = [
    object(
      r,
      'v1',
      'Service',
      n.metrics,
      'metrics',
      {
        spec: {
          selector: { 'app.kubernetes.io/instance': r.metadata.name, 'app.kubernetes.io/component': 'registry' },
          ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT, protocol: 'TCP' }],
        },
      },
      { extraLabels: metricsLabels },
    ),
    object(r, 'monitoring.coreos.com/v1', 'ServiceMonitor', n.berth, 'monitoring', {
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/instance': r.metadata.name, 'registry.berth.dev/metrics': 'true' } },
        jobLabel: 'registry.berth.dev/job',
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' }],
      },
    }),
    object(
      r,
      'monitoring.coreos.com/v1',
      'PrometheusRule',
      n.berth,
      'monitoring',
      { spec: { groups: assets.ruleGroups } },
      { extraLabels: { role: 'alert-rules' } },
    ),
    // Picked up by the Grafana sidecar (label grafana_dashboard) and the OpenShift console (console.openshift.io/dashboard).
    object(
      r,
      'v1',
      'ConfigMap',
      n.dashboard,
      'monitoring',
      { data: { 'berth.json': assets.dashboardJson } },
      {
        extraLabels: { grafana_dashboard: '1', 'console.openshift.io/dashboard': 'true' },
      },
    ),
  ];
  if (scannerManaged) {
    objects.push(
      object(
        r,
        'v1',
        'Service',
        `${n.scanner}-metrics`,
        'scanner-metrics',
        {
          spec: {
            selector: selector(r, 'scanner'),
            ports: [{ name: 'metrics', port: METRICS_PORT, targetPort: METRICS_PORT, protocol: 'TCP' }],
          },
        },
        { extraLabels: { ...metricsLabels, 'registry.berth.dev/job': 'berth-scanner' } },
      ),
    );
  }
  return { objects, config: { METRICS_PORT: METRICS_PORT } };
}

// ---- ingress and horizontalpodautoscaler ----

export function ingress(r: BerthRegistry, serverHostname: string, https: boolean, tlsSecret: string | undefined): K8sObject {
  const host = serverHostname.replace(/:\d+$/, '');
  return object(
    r,
    'networking.k8s.io/v1',
    'Ingress',
    r.metadata.name,
    'ingress',
    {
      spec: {
        ...(tlsSecret ? { tls: [{ hosts: [host], secretName: tlsSecret }] } : {}),
        rules: [
          {
            host,
            http: {
              paths: [
                { path: '/', pathType: 'Prefix', backend: { service: { name: names(r).berth, port: { name: https ? 'https' : 'http' } } } },
              ],
            },
          },
        ],
      },
    },
    {
      annotations: {
        // Image layers are large: no body limit, long timeouts (ingress-nginx; other controllers ignore these).
        'nginx.ingress.kubernetes.io/proxy-body-size': '0',
        'nginx.ingress.kubernetes.io/proxy-read-timeout': '600',
        'nginx.ingress.kubernetes.io/proxy-send-timeout': '600',
        ...(https ? { 'nginx.ingress.kubernetes.io/backend-protocol': 'HTTPS' } : {}),
      },
    },
  );
}

export function hpa(r: BerthRegistry, o: ComponentOverrides | undefined): K8sObject {
  return object(r, 'autoscaling/v2', 'HorizontalPodAutoscaler', r.metadata.name, 'horizontalpodautoscaler', {
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: names(r).berth },
      minReplicas: o?.minReplicas ?? 2,
      maxReplicas: o?.maxReplicas ?? 20,
      // Memory before CPU: the order the API server returns them in (HPAs are stored as autoscaling/v1, which keeps
      // CPU apart), so that applying the same HPA again is a no-op.
      metrics: [
        { type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 90 } } },
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 90 } } },
      ],
    },
  });
}
