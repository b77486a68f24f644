// Helpers for tests with real accounts: Basic headers, registry tokens, API calls.
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
