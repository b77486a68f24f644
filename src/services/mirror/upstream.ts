// The remote repository a mirror copies from, over src/upstream's client: tags, manifests (verified by digest)
// and blob streams, with the mirror's credentials and TLS setting (verify_tls false: certificates not checked
// and plain HTTP allowed, as skopeo --tls-verify=false) and its outbound proxy (external_registry_config.proxy).
import type { Readable } from 'node:stream';
import { UpstreamClient, UpstreamError, type ProxySettings } from '../../upstream/index.js';
import type { ExternalReference } from './reference.js';

export interface UpstreamManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/** What a sync needs of its upstream repository. */
export interface MirrorUpstream {
  readonly describe: string;
  listTags(): Promise<string[]>;
  getManifest(reference: string): Promise<UpstreamManifest>;
  getBlob(digest: string): Promise<{ stream: Readable; size?: number }>;
  close(): void;
}

export function openUpstream(
  ref: ExternalReference,
  o: { verifyTls: boolean; credentials?: { username: string; password: string }; userAgent?: string; proxy?: ProxySettings },
): MirrorUpstream {
  const client = new UpstreamClient({
    registry: ref.host,
    insecure: !o.verifyTls,
    ...(o.credentials ? { username: o.credentials.username, password: o.credentials.password } : {}),
    userAgent: o.userAgent ?? 'berth-mirror',
    ...(o.proxy ? { proxy: o.proxy } : {}),
  });
  return {
    describe: `${ref.host}/${ref.repository}`,
    listTags: () => client.listTags(ref.repository),
    getManifest: (reference) => client.getManifest(ref.repository, reference),
    getBlob: (digest) => client.getBlob(ref.repository, digest),
    close: () => client.close(),
  };
}

/** One line for a failure of the upstream (the status's last_error). */
export function upstreamReason(e: unknown): string {
  if (e instanceof UpstreamError) return e.message;
  return (e as Error)?.message ?? String(e);
}
