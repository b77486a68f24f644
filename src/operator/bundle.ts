// The config bundle: the user's config.yaml (and TLS or CA files beside it) from spec.configBundleSecret,
// checked the way Quay's operator checks it before anything rolls out. Pure: data in, problems out.
import { parse as parseYaml } from 'yaml';
import { validateConfig } from '../config/load.js';
import type { ComponentKind } from './types.js';

export interface BundleProblem {
  reason: 'ConfigBundleMissing' | 'ConfigInvalid' | 'StorageNotShareable';
  message: string;
}

export interface Bundle {
  /** config.yaml as a mapping of keys. */
  config: Record<string, unknown>;
  /** Every other file of the Secret (extra CA certificates, ssl.cert, ssl.key …), base64 as in the Secret. */
  files: Record<string, string>;
}

/** Quay's file names for a user-provided server certificate in the bundle (component tls unmanaged). */
export const BUNDLE_TLS_CERT = 'ssl.cert';
export const BUNDLE_TLS_KEY = 'ssl.key';

/** The keys each unmanaged component needs in config.yaml, and that a managed one provides itself. */
export const COMPONENT_KEYS: Partial<Record<ComponentKind, string[]>> = {
  postgres: ['DB_URI'],
  redis: ['DATA_MODEL_CACHE_CONFIG'],
  objectstorage: ['DISTRIBUTED_STORAGE_CONFIG'],
  scanner: ['SECURITY_SCANNER_V4_ENDPOINT'],
  tls: ['TLS_CERT_FILE', 'TLS_KEY_FILE'],
};

function decode(b64: string): string {
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** Reads the Secret's data (base64 values, as the API returns them) into a bundle, or says what is wrong. */
export function readBundle(
  secretName: string,
  namespace: string,
  data: Record<string, string> | undefined,
): { bundle?: Bundle; problems: BundleProblem[] } {
  if (!data) {
    return {
      problems: [
        {
          reason: 'ConfigBundleMissing',
          message: `the config bundle Secret "${secretName}" (spec.configBundleSecret) does not exist in namespace ${namespace}: create it with kubectl create secret generic ${secretName} -n ${namespace} --from-file=config.yaml`,
        },
      ],
    };
  }
  if (data['config.yaml'] === undefined) {
    return {
      problems: [
        {
          reason: 'ConfigInvalid',
          message: `the config bundle Secret "${secretName}" has no key config.yaml (it has: ${Object.keys(data).sort().join(', ') || 'nothing'})`,
        },
      ],
    };
  }
  let doc: unknown;
  try {
    doc = parseYaml(decode(data['config.yaml'])) ?? {};
  } catch (e) {
    return {
      problems: [
        {
          reason: 'ConfigInvalid',
          message: `config.yaml in Secret "${secretName}" is not valid YAML: ${(e as Error).message.split('\n')[0]}`,
        },
      ],
    };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    return {
      problems: [{ reason: 'ConfigInvalid', message: `config.yaml in Secret "${secretName}": the top level must be a mapping of keys` }],
    };
  }
  const files = Object.fromEntries(Object.entries(data).filter(([k]) => k !== 'config.yaml'));
  return { bundle: { config: doc as Record<string, unknown>, files }, problems: [] };
}

/**
 * Quay's operator rules: an unmanaged component needs its key in config.yaml, a managed one must not set it
 * (the operator provides it), and the bundle must pass `berth config validate`.
 */
export function checkBundle(bundle: Bundle, managed: (k: ComponentKind) => boolean, secretName: string): BundleProblem[] {
  const problems: string[] = [];
  const has = (key: string) => bundle.config[key] !== undefined && bundle.config[key] !== null && bundle.config[key] !== '';
  for (const kind of ['postgres', 'redis', 'objectstorage'] as const) {
    const key = COMPONENT_KEYS[kind]![0];
    if (!managed(kind) && !has(key))
      problems.push(
        `component ${kind} is unmanaged (managed: false), so config.yaml must set ${key}: add it to Secret "${secretName}" or set the component managed: true`,
      );
    if (managed(kind) && has(key))
      problems.push(
        `component ${kind} is managed, so the operator provides ${key}: remove ${key} from config.yaml in Secret "${secretName}" or set the component managed: false`,
      );
  }
  if (managed('scanner') && has('SECURITY_SCANNER_V4_ENDPOINT')) {
    problems.push(
      `component scanner is managed, so the operator provides SECURITY_SCANNER_V4_ENDPOINT: remove it from config.yaml in Secret "${secretName}" or set the component managed: false`,
    );
  }
  if (!managed('tls')) {
    for (const f of [BUNDLE_TLS_CERT, BUNDLE_TLS_KEY]) {
      if (!bundle.files[f])
        problems.push(
          `component tls is unmanaged (managed: false), so Secret "${secretName}" must hold ${f} (the server certificate chain and its key, PEM) beside config.yaml, or set the component managed: true`,
        );
    }
  } else {
    for (const k of COMPONENT_KEYS.tls!)
      if (has(k))
        problems.push(
          `component tls is managed, so the operator provides ${k}: remove it from config.yaml in Secret "${secretName}" or set the component managed: false`,
        );
  }
  if (managed('ingress') && !has('SERVER_HOSTNAME')) {
    problems.push(
      `component ingress is managed, so config.yaml must set SERVER_HOSTNAME (the host name the Ingress serves): add it to Secret "${secretName}" or set the component managed: false`,
    );
  }
  const v = validateConfig(bundle.config);
  for (const p of v.problems) problems.push(`config.yaml in Secret "${secretName}": ${p}`);
  return problems.map((message) => ({ reason: 'ConfigInvalid' as const, message }));
}
