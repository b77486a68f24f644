// Mirroring across restarts and replicas: a `berth serve` process killed (SIGKILL) in the middle of a sync leaves
// its lease to expire, and a new process takes the sync over and finishes it without fetching again the blobs
// already copied; two servers on one PostgreSQL database never sync the same repository at once. The upstream
// is docker-registry behind a forwarder that slows response bodies, so the sync can be caught in the middle.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { createPostgresDatabase, testDialects, postgresAvailable } from './helpers/databases.ts';

const DIALECTS = await testDialects();
const NO_PG = (await postgresAvailable())
  ? false
  : 'PostgreSQL is not reachable at 127.0.0.1:5432 (or BERTH_TEST_SKIP_PG=1): two replicas need one shared database';
import { spawnServer, startServer, type ChildServer, type TestServer } from './helpers/server.ts';
import { api } from './helpers/accounts.ts';
import { startDistribution, type Distribution } from './helpers/distribution.ts';
import { ContainerSandbox } from './helpers/exec.ts';
import { ADMIN, mirrorConfig, multiArch, pushAll, tagsOf, waitForStatus } from './helpers/mirror.ts';
import { startSlowUpstream, type SlowUpstream } from './helpers/slow-upstream.ts';
import { waitFor } from './helpers/wait.ts';
import { loadConfig } from '../src/config/load.ts';
import { createBerth, openContext } from '../src/server.ts';

const FAR = '2099-01-01T00:00:00Z';
const body = (reference: string) => ({
  external_reference: reference,
  sync_interval: 3600,
  sync_start_date: FAR,
  root_rule: { rule_kind: 'tag_glob_csv', rule_value: ['v*'] },
  external_registry_config: { verify_tls: false },
});
const asServer = (url: string) => ({ url }) as TestServer;

describe('mirroring: resume and replicas', { timeout: 300_000 }, () => {
  let upstream: Distribution;
  let sandbox: ContainerSandbox;
  let slow: SlowUpstream;
  const digests: Record<string, string> = {};

  before(async () => {
    sandbox = new ContainerSandbox('berth-mirror-resume-');
    upstream = await startDistribution();
    for (const r of ['big', 'one', 'two']) {
      const img = await multiArch(`resume-${r}`, r === 'big' ? 600_000 : 200_000);
      await pushAll(sandbox, upstream.host, `library/${r}`, { v1: img });
      digests[r] = img.descriptor.digest;
    }
    slow = await startSlowUpstream(upstream.host, 200_000);
  });
  after(async () => {
    await slow?.close();
    await upstream?.cleanup();
    await sandbox?.cleanup();
  });

  for (const dialect of DIALECTS) {
    test(`a server killed mid-sync: a new process takes the sync over once the lease expired and finishes it (${dialect})`, async () => {
      {
        const dir = mkdtempSync(path.join(tmpdir(), 'berth-mirror-resume-'));
        const db = dialect === 'postgres' ? await createPostgresDatabase() : undefined;
        const cfg = path.join(dir, 'config.yaml');
        writeFileSync(cfg, stringifyYaml({ AUTHENTICATION_TYPE: 'Database', PBKDF2_ITERATIONS: 1000, ...mirrorConfig() }));
        const env: Record<string, string> = db ? { DB_URI: db.uri } : {};
        let a: ChildServer | undefined;
        let b: ChildServer | undefined;
        try {
          slow.rate = 200_000;
          a = await spawnServer(['--config', cfg, '--data', path.join(dir, 'data')], env, 90_000);
          const sa = asServer(a.url);
          assert.equal((await api(sa, 'POST', '/repository', ADMIN, { namespace: 'admin', repository: `big-${dialect}` })).status, 201);
          const repo = `admin/big-${dialect}`;
          assert.equal((await api(sa, 'POST', `/repository/${repo}/mirror`, ADMIN, body(`${slow.host}/library/big`))).status, 201);
          const seen = slow.completed.length;
          assert.equal((await api(sa, 'POST', `/repository/${repo}/mirror/sync-now`, ADMIN)).status, 204);
          // Killed once at least one big layer is copied whole, while the other one is still coming.
          const bigBlob = (r: string) => r.includes('/library/big/blobs/') && !r.endsWith('/');
          await waitFor(() => slow.completed.slice(seen).filter(bigBlob).length >= 3, {
            what: 'the config blobs and a layer of the big image to be copied',
            timeout: 60_000,
            detail: () => slow.completed.slice(seen).join('\n'),
          });
          a.proc.kill('SIGKILL');
          await a.exited;
          // What the killed process had committed (rows and bytes) is what the next one must not fetch again.
          const { ctx, database } = await openContext(loadConfig({ file: cfg, data: path.join(dir, 'data'), listen: '127.0.0.1:0', env }));
          const linked = await ctx.db
            .selectFrom('repository_blob')
            .innerJoin('repository', 'repository.id', 'repository_blob.repository_id')
            .select('repository_blob.digest')
            .where('repository.name', '=', repo)
            .execute();
          await database.close();
          assert.ok(linked.length >= 1, 'the killed process had copied some blobs');
          const before = new Set(linked.map((l) => `GET /v2/library/big/blobs/${l.digest}`));
          const mark = slow.requests.length;
          slow.rate = 5_000_000;
          b = await spawnServer(['--config', cfg, '--data', path.join(dir, 'data')], env, 90_000);
          const sb = asServer(b.url);
          const v = await waitForStatus(sb, repo, ['SYNC_SUCCESS', 'SYNC_FAILED'], 60_000);
          assert.equal(v.sync_status, 'SYNC_SUCCESS', JSON.stringify(v));
          assert.equal((await tagsOf(sb, repo)).v1, digests.big);
          const again = slow.requests.slice(mark).filter((r) => before.has(r));
          assert.deepEqual(again, [], 'blobs copied before the kill are not fetched again');
          await waitFor(
            async () =>
              (
                (await api(sb, 'GET', `/repository/${repo}/logs`, ADMIN)).json.logs as { kind: string; metadata: { message?: string } }[]
              ).some((l) => l.kind === 'repo_mirror_sync_started' && /resumed/.test(l.metadata.message ?? '')),
            { what: 'a repo_mirror_sync_started entry for the resumed sync' },
          );
        } finally {
          if (a && a.proc.exitCode === null) a.proc.kill('SIGKILL');
          if (b) {
            b.proc.kill('SIGTERM');
            await b.exited;
          }
          await db?.drop();
          rmSync(dir, { recursive: true, force: true });
        }
      }
    });
  }

  test('two servers on one PostgreSQL database: each repository is synced by one of them, once', { skip: NO_PG }, async () => {
    slow.rate = 150_000;
    const a = await startServer('postgres', {}, { auth: true, config: mirrorConfig() });
    const cfgFile = path.join(a.dataDir, 'config.yaml');
    const bConfig = loadConfig({ file: cfgFile, data: a.dataDir, listen: '127.0.0.1:0', env: { DB_URI: a.dbUri! } });
    const b = await createBerth(bConfig);
    const bUrl = await b.listen();
    const sb = asServer(bUrl);
    try {
      const repos = ['one', 'two'];
      for (const r of repos) {
        assert.equal((await api(a, 'POST', '/repository', ADMIN, { namespace: 'admin', repository: r })).status, 201);
        assert.equal((await api(a, 'POST', `/repository/admin/${r}/mirror`, ADMIN, body(`${slow.host}/library/${r}`))).status, 201);
      }
      const mark = slow.requests.length;
      // Each server is told about one repository; both look for due mirrors every 100 ms.
      assert.equal((await api(a, 'POST', '/repository/admin/one/mirror/sync-now', ADMIN)).status, 204);
      assert.equal((await api(sb, 'POST', '/repository/admin/two/mirror/sync-now', ADMIN)).status, 204);
      const owners: Record<string, Set<string>> = { one: new Set(), two: new Set() };
      await waitFor(
        async () => {
          const rows = await a.berth.ctx.db
            .selectFrom('repo_mirror as m')
            .innerJoin('repository as r', 'r.id', 'm.repository_id')
            .select(['r.name', 'm.lease_owner', 'm.sync_status'])
            .execute();
          for (const row of rows) if (row.lease_owner) owners[row.name.split('/')[1]].add(row.lease_owner);
          return rows.every((r) => r.sync_status === 'SYNC_SUCCESS' || r.sync_status === 'SYNC_FAILED');
        },
        { what: 'both mirrors to finish', timeout: 60_000, interval: 25 },
      );
      for (const r of repos) {
        const v = await waitForStatus(a, `admin/${r}`, ['SYNC_SUCCESS']);
        assert.equal(v.sync_status, 'SYNC_SUCCESS');
        assert.equal((await tagsOf(sb, `admin/${r}`)).v1, digests[r]);
        assert.equal(owners[r].size, 1, `one lease owner for admin/${r}: ${[...owners[r]]}`);
      }
      // Every upstream blob was fetched once in all: no two servers copied the same repository.
      const blobs = slow.requests.slice(mark).filter((r) => /\/blobs\/sha256:/.test(r));
      assert.ok(blobs.length >= 8, blobs.join('\n'));
      assert.equal(new Set(blobs).size, blobs.length, `a blob fetched twice:\n${blobs.join('\n')}`);
      await waitFor(
        async () => {
          for (const r of repos) {
            const logs = (await api(a, 'GET', `/repository/admin/${r}/logs`, ADMIN)).json.logs as { kind: string }[];
            if (logs.filter((l) => l.kind === 'repo_mirror_sync_started').length !== 1) return false;
          }
          return true;
        },
        { what: 'exactly one repo_mirror_sync_started per repository' },
      );
    } finally {
      await b.close();
      await a.stop();
    }
  });
});
