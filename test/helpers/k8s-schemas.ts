// Validates Kubernetes objects against the official OpenAPI schemas, as shipped by the kubernetes-models
// packages (generated from the upstream Kubernetes OpenAPI spec and the Prometheus Operator's CRDs).
// Like the API server, the upstream schemas check types, required fields and enums; unknown fields are
// caught by the API-server test, which reads every applied object back (the server drops unknown fields).
import type { K8sObject } from '../../src/operator/types.ts';

type Model = new (o: unknown) => { validate(): void };

async function model(apiVersion: string, kind: string): Promise<Model> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const mod =
    group === 'monitoring.coreos.com'
      ? await import(`@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`)
      : await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`);
  const M = (mod as Record<string, Model>)[kind];
  if (!M) throw new Error(`no upstream schema for ${apiVersion} ${kind}`);
  return M;
}

/** Throws with the object's kind, name and the schema's complaint when it does not validate. */
export async function validateObject(o: K8sObject | Record<string, unknown>): Promise<void> {
  const obj = o as K8sObject;
  const M = await model(obj.apiVersion, obj.kind);
  try {
    new M(JSON.parse(JSON.stringify(obj))).validate();
  } catch (e) {
    throw new Error(`${obj.kind} ${obj.metadata?.name}: ${(e as Error).message}`);
  }
}
