// Pushes small images to any registry (Berth or docker-registry) with an optional Authorization header:
// POST an upload, PUT the bytes with ?digest= (the two-step flow every registry supports), PUT the manifest.
import { imageManifest, sha256, type Pushed } from './registry-client.ts';

export async function pushBlobTo(url: string, repo: string, data: Buffer | string, authorization?: string): Promise<Pushed> {
  const bytes = Buffer.from(data);
  const digest = sha256(bytes);
  const auth: Record<string, string> = authorization ? { authorization } : {};
  const start = await fetch(`${url}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers: auth });
  if (start.status !== 202) throw new Error(`upload start ${start.status}: ${await start.text()}`);
  await start.arrayBuffer();
  const loc = new URL(start.headers.get('location') as string, url);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: new Uint8Array(bytes),
    headers: { ...auth, 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`blob put ${put.status}: ${await put.text()}`);
  await put.arrayBuffer();
  return { digest, size: bytes.length, bytes };
}

export interface PushedImage {
  digest: string;
  manifest: Buffer;
  config: Pushed;
  layers: Pushed[];
}

/** Pushes config + layers (default one small layer) + an OCI manifest under `ref`. */
export async function pushImageTo(
  url: string,
  repo: string,
  ref: string,
  opts: { seed?: string; authorization?: string; layers?: (Buffer | string)[] } = {},
): Promise<PushedImage> {
  const seed = opts.seed ?? ref;
  const config = await pushBlobTo(url, repo, JSON.stringify({ architecture: 'amd64', os: 'linux', seed }), opts.authorization);
  const layers: Pushed[] = [];
  for (const l of opts.layers ?? [`layer-${seed}-${'x'.repeat(100)}`]) layers.push(await pushBlobTo(url, repo, l, opts.authorization));
  const manifest = imageManifest(config, layers);
  const digest = await putManifestTo(url, repo, ref, manifest, 'application/vnd.oci.image.manifest.v1+json', opts.authorization);
  return { digest, manifest, config, layers };
}

export async function putManifestTo(
  url: string,
  repo: string,
  ref: string,
  body: Buffer,
  mediaType: string,
  authorization?: string,
): Promise<string> {
  const r = await fetch(`${url}/v2/${repo}/manifests/${ref}`, {
    method: 'PUT',
    body: new Uint8Array(body),
    headers: { 'content-type': mediaType, ...(authorization ? { authorization } : {}) },
  });
  if (r.status !== 201) throw new Error(`manifest put ${r.status}: ${await r.text()}`);
  await r.arrayBuffer();
  return sha256(body);
}
