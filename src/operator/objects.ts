// Helpers every component builder shares: names, labels, owner references, the pod security baseline.
import {
  API_VERSION,
  KIND,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  FIELD_MANAGER,
  type BerthRegistry,
  type ComponentOverrides,
  type K8sObject,
  type OwnerReference,
} from './types.js';

export function ownerReference(r: BerthRegistry): OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: r.metadata.name,
    uid: r.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function labels(r: BerthRegistry, component: string, version?: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'berth',
    [LABEL_INSTANCE]: r.metadata.name,
    [LABEL_COMPONENT]: component,
    [LABEL_MANAGED_BY]: FIELD_MANAGER,
    ...(version ? { 'app.kubernetes.io/version': version } : {}),
  };
}

export function selector(r: BerthRegistry, component: string): Record<string, string> {
  return { [LABEL_INSTANCE]: r.metadata.name, [LABEL_COMPONENT]: component };
}

/** An object of this registry: namespaced, labelled, owned (unless `owned: false`). */
export function object(
  r: BerthRegistry,
  apiVersion: string,
  kind: string,
  name: string,
  component: string,
  body: Record<string, unknown>,
  opts: { owned?: boolean; annotations?: Record<string, string>; extraLabels?: Record<string, string>; version?: string } = {},
): K8sObject {
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace: r.metadata.namespace,
      labels: { ...labels(r, component, opts.version), ...opts.extraLabels },
      ...(opts.annotations ? { annotations: opts.annotations } : {}),
      ...(opts.owned === false ? {} : { ownerReferences: [ownerReference(r)] }),
    },
    ...body,
  };
}

/** Restricted pod security: non-root, no privilege escalation, no capabilities, read-only root file system. */
export const podSecurityContext = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } } as const;
export const containerSecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
} as const;

/** `env` and `resources` overrides on a container. */
export function withOverrides(container: Record<string, unknown>, o: ComponentOverrides | undefined): Record<string, unknown> {
  // An override replaces a variable of the same name (a list with duplicate names is invalid).
  const byName = new Map<string, unknown>();
  for (const e of [...((container.env as { name: string }[]) ?? []), ...(o?.env ?? [])]) byName.set(e.name, e);
  const env = [...byName.values()];
  const out: Record<string, unknown> = { ...container, env, ...(o?.resources ? { resources: o.resources } : {}) };
  // No empty lists or undefined fields: the API server drops them, and an applied object must equal what it stores.
  for (const k of Object.keys(out))
    if (out[k] === undefined || (Array.isArray(out[k]) && (out[k] as unknown[]).length === 0)) delete out[k];
  return out;
}

export function encode(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}
