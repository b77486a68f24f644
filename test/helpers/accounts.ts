// Helpers for tests with real accounts: Basic headers, registry tokens, API calls, a tiny image pushed with a token.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { TestServer } from './server.ts';

export const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

export function host(s: TestServer): string {
  return new URL(s.url).host;
}

/** A registry token for the scopes, with Basic credentials or anonymously. */
export async function registryToken(
  s: TestServer,
  scopes: string[],
  creds?: [string, string],
): Promise<{ status: number; token?: string; access?: unknown }> {
  const q = new URLSearchParams({ service: host(s) });
  for (const sc of scopes) q.append('scope', sc);
  const r = await fetch(`${s.url}/v2/auth?${q}`, { headers: creds ? { authorization: basic(...creds) } : {} });
  const body = (await r.json()) as { token?: string };
  if (!body.token) return { status: r.status };
  const claims = JSON.parse(Buffer.from(body.token.split('.')[1], 'base64url').toString()) as { access: unknown };
  return { status: r.status, token: body.token, access: claims.access };
}

/** Calls /api/v1 with Basic credentials (or none); JSON body when given. */
export async function api(
  s: Pick<TestServer, 'url'>,
  method: string,
  path: string,
  creds?: [string, string],
  body?: unknown,
): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = {};
  if (creds) headers.authorization = basic(...creds);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${s.url}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, json };
}

/**
 * Pushes `repo:tag` with the credentials' registry token: a config blob naming the tag (single-request upload)
 * and an OCI manifest with no layers; asserts that both are created (201).
 */
export async function pushTinyImage(s: TestServer, repo: string, tag: string, creds: [string, string]): Promise<void> {
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
  const t = await registryToken(s, [`repository:${repo}:pull,push`], creds);
  const auth = { authorization: `Bearer ${t.token}` };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', tag }));
  assert.equal(
    (await fetch(`${s.url}/v2/${repo}/blobs/uploads/?digest=${sha(config)}`, { method: 'POST', headers: auth, body: config })).status,
    201,
  );
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [],
  });
  const r = await fetch(`${s.url}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { ...auth, 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
    body: manifest,
  });
  assert.equal(r.status, 201);
}
