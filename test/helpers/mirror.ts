// Shared pieces of the mirroring tests: multi-arch images pushed to a docker-registry upstream with
// `skopeo copy --all`, the server config, and waiting for a mirror's sync status.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildImage, buildIndex, writeOciLayout, type BuiltIndex } from './images.ts';
import type { ContainerSandbox } from './exec.ts';
import { api } from './accounts.ts';
import type { TestServer } from './server.ts';
import { waitFor } from './wait.ts';

export const ADMIN: [string, string] = ['admin', 'admin-password-1'];

/** Config of a Berth with accounts and mirroring: looks for due mirrors every 100 ms, 2 s leases, audit flushed fast. */
export function mirrorConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
    LOGIN_FAILURE_LIMIT: 1000,
    FEATURE_REPO_MIRROR: true,
    REPO_MIRROR_INTERVAL: 0.1,
    REPO_MIRROR_LEASE_SECONDS: 2,
    AUDIT_LOG_FLUSH_MS: 50,
    ...extra,
  };
}

/** An OCI index over amd64 and arm64 images (distinct content per seed); `big`: one extra layer of that many random bytes each. */
export async function multiArch(seed: string, big = 0): Promise<BuiltIndex> {
  const images = [];
  for (const architecture of ['amd64', 'arm64']) {
    const layers: Record<string, string | Buffer>[] = [{ [`etc/${seed}-${architecture}`]: `${seed} ${architecture}\n` }];
    if (big) layers.push({ [`data/${architecture}.bin`]: randomBytes(big) });
    images.push(await buildImage({ format: 'oci', architecture, layers }));
  }
  return buildIndex('oci', images);
}

/** Pushes the images to `host/repo:tag` of a docker-registry with skopeo copy --all (plain HTTP). */
export async function pushAll(
  sandbox: ContainerSandbox,
  host: string,
  repo: string,
  refs: Record<string, BuiltIndex>,
  creds?: string,
): Promise<void> {
  const dir = sandbox.mkdir('layout');
  writeOciLayout(dir, refs);
  for (const tag of Object.keys(refs)) {
    await sandbox.skopeo([
      'copy',
      '--all',
      '--dest-tls-verify=false',
      ...(creds ? ['--dest-creds', creds] : []),
      `oci:${dir}:${tag}`,
      `docker://${host}/${repo}:${tag}`,
    ]);
  }
}

export interface MirrorStatus {
  sync_status: string;
  last_error: string | null;
  last_sync: string | null;
  [k: string]: unknown;
}

export async function mirrorStatus(s: TestServer, repo: string): Promise<MirrorStatus> {
  const r = await api(s, 'GET', `/repository/${repo}/mirror`, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json;
}

/** Waits until the mirror's sync_status is one of `statuses`; returns the status. */
export async function waitForStatus(s: TestServer, repo: string, statuses: string[], timeout = 30_000): Promise<MirrorStatus> {
  let last: MirrorStatus | undefined;
  await waitFor(
    async () => {
      last = await mirrorStatus(s, repo);
      return statuses.includes(last.sync_status);
    },
    { what: `${repo} to reach ${statuses.join('|')}`, timeout, interval: 50, detail: () => JSON.stringify(last) },
  );
  return last!;
}

/** The active tags of a repository (name -> digest). */
export async function tagsOf(s: TestServer, repo: string): Promise<Record<string, string>> {
  const r = await api(s, 'GET', `/repository/${repo}/tag/?limit=100`, ADMIN);
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return Object.fromEntries((r.json.tags as { name: string; manifest_digest: string }[]).map((t) => [t.name, t.manifest_digest]));
}
