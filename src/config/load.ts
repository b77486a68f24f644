// Loads config.yaml, applies environment overrides and command-line flags, validates.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configSchema, type RawConfig } from './schema.js';
import { buildArtifactPolicy, type ArtifactPolicyOptions } from '../oci/artifact-policy.js';
import { fipsConfigProblems } from '../crypto/fips.js';
import { durationSeconds } from './schema-tags.js';
import { identityConfigProblems } from './schema-identity.js';
import { storageSettings, type StorageSettings } from './schema-storage.js';
import { environmentProxy } from './env-proxy.js';
import type { ProxySettings } from '../upstream/proxy.js';
import { SCANNER_BOOLEAN_ENV_KEYS, SCANNER_NUMERIC_ENV_KEYS, SCANNER_STRING_ENV_KEYS, scannerEnvOverrides } from './env-scanner.js';

export interface BerthConfig {
  raw: RawConfig;
  serverHostname: string;
  /** False when SERVER_HOSTNAME is unset: serverHostname is then derived from the listen address. */
  serverHostnameSet: boolean;
  urlScheme: 'http' | 'https';
  listen: { host: string; port: number };
  dataDir: string;
  db:
    | { kind: 'sqlite'; file: string; checkpoint?: { triggerBytes?: number; limitBytes?: number } }
    | { kind: 'postgres'; uri: string; maxConnections: number; namedStatements?: boolean };
  /** DISTRIBUTED_STORAGE_CONFIG's preferred entry (local disk by default). */
  storage: StorageSettings;
  /** FEATURE_PROXY_STORAGE: stream blobs through Berth instead of redirecting to presigned storage URLs. */
  proxyStorage: boolean;
  storageRedirectSeconds: number;
  maxManifestBytes: number;
  uploadExpirySeconds: number;
  gcGraceSeconds: number;
  gcIntervalSeconds: number;
  gcSweepIntervalSeconds: number;
  gcSweepRows: number;
  /** DEFAULT_TAG_EXPIRATION: how long tag history keeps a moved or deleted tag restorable. */
  tagHistorySeconds: number;
  listPageMax: number;
  shutdownGraceSeconds: number;
  /** FEATURE_GENERAL_OCI_SUPPORT, FEATURE_HELM_OCI_SUPPORT, ALLOWED_OCI_ARTIFACT_TYPES (merged over the defaults). */
  artifacts: ArtifactPolicyOptions;
  /**
   * HTTP_PROXY, HTTPS_PROXY and NO_PROXY of the environment (env-proxy.ts): the outbound proxy of proxy cache
   * organizations and mirrors that have no proxy setting of their own. Undefined when the environment names no proxy.
   */
  outboundProxy?: ProxySettings;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** Keys that an environment variable of the same name overrides. */
const ENV_KEYS = [
  'DB_URI',
  'SERVER_HOSTNAME',
  'PREFERRED_URL_SCHEME',
  'LISTEN',
  'DATA_DIR',
  'AUTHENTICATION_TYPE',
  'METRICS_BASIC_AUTH',
  'LDAP_URI',
  'LDAP_ADMIN_DN',
  'LDAP_ADMIN_PASSWD',
  'DEFAULT_TAG_EXPIRATION',
  ...SCANNER_STRING_ENV_KEYS,
] as const;
const NUMERIC_ENV_KEYS = [
  'MAXIMUM_MANIFEST_SIZE',
  'UPLOAD_EXPIRY_SECONDS',
  'GC_GRACE_SECONDS',
  'GC_INTERVAL_SECONDS',
  'GC_SWEEP_INTERVAL_SECONDS',
  'GC_SWEEP_ROWS',
  'STORAGE_REDIRECT_SECONDS',
  'LIST_PAGE_MAX',
  'SHUTDOWN_GRACE_SECONDS',
  'METRICS_PORT',
  'METRICS_ROW_COUNT_INTERVAL_SECONDS',
  ...SCANNER_NUMERIC_ENV_KEYS,
] as const;
/** Keys that an environment variable overrides with true/false (also 1/0, yes/no). */
const BOOLEAN_ENV_KEYS = [
  'FEATURE_PROXY_STORAGE',
  'METRICS_ENABLED',
  'METRICS_ON_MAIN_PORT',
  'FEATURE_GENERAL_OCI_SUPPORT',
  'FEATURE_HELM_OCI_SUPPORT',
  ...SCANNER_BOOLEAN_ENV_KEYS,
] as const;

export interface LoadOptions {
  file?: string;
  listen?: string;
  data?: string;
  env?: NodeJS.ProcessEnv;
  /** berth serve --fips: FEATURE_FIPS on. */
  fips?: boolean;
}

function formatPath(p: readonly PropertyKey[]): string {
  const parts: string[] = [];
  p.forEach((k, i) => {
    // DISTRIBUTED_STORAGE_CONFIG.<name> is a [driver, params] pair: show params keys directly.
    if (p[0] === 'DISTRIBUTED_STORAGE_CONFIG' && i === 2) {
      if (k === 0) parts.push('driver');
      return;
    }
    parts.push(typeof k === 'number' ? `[${k}]` : String(k));
  });
  return parts.join('.').replace(/\.\[/g, '[');
}

/** Reads and parses a YAML file; problems are reported like validation problems. */
export function readConfigFile(file: string): { doc: Record<string, unknown>; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { doc: {}, problems: [`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`] };
  }
  try {
    const doc = parseYaml(text) ?? {};
    if (typeof doc !== 'object' || Array.isArray(doc)) return { doc: {}, problems: [`${file}: the top level must be a mapping of keys`] };
    return { doc: doc as Record<string, unknown>, problems: [] };
  } catch (e) {
    return { doc: {}, problems: [`${file}: not valid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
}

export function validateConfig(doc: Record<string, unknown>): { config?: RawConfig; problems: string[] } {
  const r = configSchema.safeParse(doc, { reportInput: true });
  if (r.success) {
    const more = [...fipsConfigProblems(r.data), ...identityConfigProblems(r.data)];
    return more.length ? { problems: more } : { config: r.data, problems: [] };
  }
  const problems = r.error.issues.map((i) => {
    const where = formatPath(i.path);
    const msg = i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined ? 'required' : i.message;
    return `${where || '(top level)'}: ${msg}`;
  });
  return { problems };
}

export function loadConfig(opts: LoadOptions = {}): BerthConfig {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  let doc: Record<string, unknown> = {};
  const file = opts.file ?? env.BERTH_CONFIG;
  if (file) {
    const r = readConfigFile(file);
    doc = r.doc;
    problems.push(...r.problems);
  }
  doc = { ...doc };
  for (const k of ENV_KEYS) if (env[k]) doc[k] = env[k];
  for (const k of NUMERIC_ENV_KEYS) {
    if (env[k] !== undefined && env[k] !== '') {
      const n = Number(env[k]);
      if (!Number.isFinite(n)) problems.push(`${k} (environment): must be a number`);
      else doc[k] = n;
    }
  }
  for (const k of BOOLEAN_ENV_KEYS) {
    const v = env[k]?.trim().toLowerCase();
    if (v === undefined || v === '') continue;
    if (['true', '1', 'yes', 'on'].includes(v)) doc[k] = true;
    else if (['false', '0', 'no', 'off'].includes(v)) doc[k] = false;
    else problems.push(`${k} (environment): must be true or false`);
  }
  scannerEnvOverrides(env, doc, problems);
  const outbound = environmentProxy(env);
  problems.push(...outbound.problems);
  if (env.TRUSTED_PROXIES !== undefined && env.TRUSTED_PROXIES !== '')
    doc.TRUSTED_PROXIES = env.TRUSTED_PROXIES.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  if (env.METRICS_NODE_COLLECTORS !== undefined)
    doc.METRICS_NODE_COLLECTORS = env.METRICS_NODE_COLLECTORS.split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  if (env.BERTH_DATA) doc.DATA_DIR = env.BERTH_DATA;
  if (env.BERTH_LISTEN) doc.LISTEN = env.BERTH_LISTEN;
  if (opts.data) doc.DATA_DIR = opts.data;
  if (opts.listen) doc.LISTEN = opts.listen;
  if (opts.fips || /^(true|1)$/i.test(env.FEATURE_FIPS ?? '')) doc.FEATURE_FIPS = true;
  const v = validateConfig(doc);
  problems.push(...v.problems);
  if (problems.length || !v.config) throw new ConfigError(problems);
  const config = resolve(v.config);
  if (outbound.settings) config.outboundProxy = outbound.settings;
  return config;
}

/** host:port of the listen address as clients can name it (localhost for a wildcard address). */
function listenHostname(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return `localhost:${port}`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function resolve(raw: RawConfig): BerthConfig {
  const dataDir = path.resolve(raw.DATA_DIR);
  const idx = raw.LISTEN.lastIndexOf(':');
  let host = raw.LISTEN.slice(0, idx) || '0.0.0.0';
  if (host.startsWith('[')) host = host.slice(1, -1);
  const port = Number(raw.LISTEN.slice(idx + 1));
  if (port > 65535) throw new ConfigError([`LISTEN: port ${port} is out of range`]);
  let db: BerthConfig['db'];
  const uri = raw.DB_URI;
  const args = raw.DB_CONNECTION_ARGS;
  const checkpoint = {
    ...(args?.wal_checkpoint_mib ? { triggerBytes: Math.round(args.wal_checkpoint_mib * 1048576) } : {}),
    ...(args?.wal_limit_mib ? { limitBytes: Math.round(args.wal_limit_mib * 1048576) } : {}),
  };
  if (!uri) db = { kind: 'sqlite', file: path.join(dataDir, 'berth.db'), checkpoint };
  else if (uri.startsWith('sqlite:')) {
    const p = uri.replace(/^sqlite:(\/\/\/)?/, '');
    db = { kind: 'sqlite', file: p === ':memory:' ? p : path.resolve(p), checkpoint };
  } else
    db = {
      kind: 'postgres',
      uri,
      maxConnections: raw.DB_CONNECTION_ARGS?.max_connections ?? 10,
      namedStatements: raw.DB_CONNECTION_ARGS?.prepared_statements ?? true,
    };
  let storage: StorageSettings = { kind: 'local', path: path.join(dataDir, 'blobs'), configKey: 'DATA_DIR' };
  const storageCfg = raw.DISTRIBUTED_STORAGE_CONFIG;
  if (storageCfg) {
    const preferred = raw.DISTRIBUTED_STORAGE_PREFERENCE?.[0] ?? Object.keys(storageCfg)[0];
    const entry = storageCfg[preferred];
    if (!entry) throw new ConfigError([`DISTRIBUTED_STORAGE_PREFERENCE[0]: "${preferred}" is not a key of DISTRIBUTED_STORAGE_CONFIG`]);
    try {
      storage = storageSettings(preferred, entry, (p) => path.resolve(p));
    } catch (e) {
      throw new ConfigError([`DISTRIBUTED_STORAGE_CONFIG.${preferred}: ${(e as Error).message}`]);
    }
  }
  return {
    raw,
    serverHostname: raw.SERVER_HOSTNAME ?? listenHostname(host, port),
    serverHostnameSet: raw.SERVER_HOSTNAME !== undefined,
    urlScheme: raw.PREFERRED_URL_SCHEME,
    listen: { host, port },
    dataDir,
    db,
    storage,
    proxyStorage: raw.FEATURE_PROXY_STORAGE,
    storageRedirectSeconds: raw.STORAGE_REDIRECT_SECONDS,
    maxManifestBytes: raw.MAXIMUM_MANIFEST_SIZE,
    uploadExpirySeconds: raw.UPLOAD_EXPIRY_SECONDS,
    gcGraceSeconds: raw.GC_GRACE_SECONDS,
    gcIntervalSeconds: raw.GC_INTERVAL_SECONDS,
    gcSweepIntervalSeconds: raw.GC_SWEEP_INTERVAL_SECONDS,
    gcSweepRows: raw.GC_SWEEP_ROWS,
    tagHistorySeconds: durationSeconds(raw.DEFAULT_TAG_EXPIRATION),
    listPageMax: raw.LIST_PAGE_MAX,
    shutdownGraceSeconds: raw.SHUTDOWN_GRACE_SECONDS,
    artifacts: buildArtifactPolicy({
      generalOci: raw.FEATURE_GENERAL_OCI_SUPPORT,
      helmOci: raw.FEATURE_HELM_OCI_SUPPORT,
      allowed: raw.ALLOWED_OCI_ARTIFACT_TYPES,
    }),
  };
}
