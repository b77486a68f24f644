// A tiny OCI client over fetch for tests: push blobs and manifests, read errors.
import { createHash } from 'node:crypto';

export const sha256 = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface Pushed {
  digest: string;
  size: number;
  bytes: Buffer;
}

export async function pushBlob(url: string, repo: string, data: Buffer | string): Promise<Pushed> {
  const bytes = Buffer.from(data);
  const digest = sha256(bytes);
  const r = await fetch(`${url}/v2/${repo}/blobs/uploads/?digest=${digest}`, {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (r.status !== 201) throw new Error(`blob push ${r.status}: ${await r.text()}`);
  return { digest, size: bytes.length, bytes };
}

export function imageManifest(config: Pushed, layers: Pushed[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
      ...extra,
    }),
  );
}

export async function putManifest(
  url: string,
  repo: string,
  ref: string,
  body: Buffer,
  mediaType = 'application/vnd.oci.image.manifest.v1+json',
): Promise<Response> {
  return fetch(`${url}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: new Uint8Array(body), headers: { 'content-type': mediaType } });
}

/** Pushes a small image (config + one layer + manifest under `tag`); returns the manifest digest. */
export async function pushImage(
  url: string,
  repo: string,
  tag: string,
  seed = tag,
): Promise<{ digest: string; manifest: Buffer; layer: Pushed; config: Pushed }> {
  const config = await pushBlob(url, repo, JSON.stringify({ architecture: 'amd64', os: 'linux', seed }));
  const layer = await pushBlob(url, repo, `layer-${seed}-${'x'.repeat(100)}`);
  const manifest = imageManifest(config, [layer]);
  const r = await putManifest(url, repo, tag, manifest);
  if (r.status !== 201) throw new Error(`manifest push ${r.status}: ${await r.text()}`);
  return { digest: r.headers.get('docker-content-digest')!, manifest, layer, config };
}

export async function errorCode(r: Response): Promise<string | undefined> {
  const text = await r.text();
  try {
    return (JSON.parse(text) as { errors?: { code: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}
