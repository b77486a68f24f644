// The database secret key belongs to the database: Berth restarted on the same database with another
// DATA_DIR (so another key file) or another DATABASE_SECRET_KEY refuses to start, before it listens,
// naming both keys' places and what to do; started again with the right DATA_DIR, it serves tokens as before. The
// one-shot commands that open the database (berth gc, admin create-user, admin quota-recount) refuse the same way,
// changing nothing, and work with the right key.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { createPostgresDatabase, testDialects } from './helpers/databases.ts';
import { basic } from './helpers/accounts.ts';
import { BERTH_BIN, spawnServer, type ChildServer } from './helpers/server.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const SERVICE = 'registry.key.test';

/** Runs `berth serve` expected to refuse: its exit code and output (killed after 60 s). */
async function refusedStart(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, [BERTH_BIN, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const seen = (d: Buffer) => {
    out += d;
    if (/listening on/.test(out)) proc.kill('SIGKILL'); // it started: the assertion on the output says so
  };
  proc.stdout.on('data', seen);
  proc.stderr.on('data', seen);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((res) => proc.on('exit', (c) => res(c)));
  clearTimeout(timer);
  return { code, out };
}

/** Runs a one-shot `berth` command (optional standard input): its exit code and output (killed after 60 s). */
async function runCli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; out: string }> {
  const proc = spawn(process.execPath, [BERTH_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (out += d));
  proc.stdin.end(stdin);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((res) => proc.on('exit', (c) => res(c)));
  clearTimeout(timer);
  return { code, out };
}

async function stop(s: ChildServer): Promise<void> {
  s.proc.kill('SIGTERM');
  assert.equal(await s.exited, 0, s.output());
}

async function tokenStatus(s: ChildServer): Promise<number> {
  const q = new URLSearchParams({ service: SERVICE, scope: 'repository:admin/app:pull,push' });
  const r = await fetch(`${s.url}/v2/auth?${q}`, { headers: { authorization: basic(...ADMIN) } });
  await r.arrayBuffer();
  return r.status;
}

for (const dialect of await testDialects()) {
  describe(`database secret key fingerprint (${dialect})`, () => {
    let root: string;
    let cfg: string;
    let cfgWithKey: string;
    let env: Record<string, string>;
    let pg: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
    before(async () => {
      root = mkdtempSync(path.join(tmpdir(), 'berth-keyfp-'));
      cfg = path.join(root, 'config.yaml');
      const doc = {
        AUTHENTICATION_TYPE: 'Database',
        SERVER_HOSTNAME: SERVICE,
        PBKDF2_ITERATIONS: 1000,
        BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
        FEATURE_SECURITY_SCANNER: false,
      };
      writeFileSync(cfg, stringifyYaml(doc));
      cfgWithKey = path.join(root, 'config-key.yaml');
      writeFileSync(cfgWithKey, stringifyYaml({ ...doc, DATABASE_SECRET_KEY: 'f'.repeat(64) }));
      if (dialect === 'postgres') pg = await createPostgresDatabase();
      env = { DB_URI: pg ? pg.uri : `sqlite:${path.join(root, 'berth.db')}` };
    });
    after(async () => {
      await pg?.drop();
      rmSync(root, { recursive: true, force: true });
    });

    test('another DATA_DIR on the same database: refused before listening, naming both key files; the right one starts', async () => {
      const first = path.join(root, 'data-1');
      const moved = path.join(root, 'data-2');
      const a = await spawnServer(['--config', cfg, '--data', first], env);
      assert.equal(await tokenStatus(a), 200);
      await stop(a);

      const r = await refusedStart(['--config', cfg, '--data', moved], env);
      assert.notEqual(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /listening on/);
      assert.match(r.out, /the database secret key does not match this database/);
      const key1 = path.join(first, 'database-secret.key');
      const key2 = path.join(moved, 'database-secret.key');
      assert.ok(r.out.includes(`set up with the key from ${key1}`), r.out);
      assert.ok(r.out.includes(`this server's key comes from ${key2}`), r.out);
      assert.ok(r.out.includes(`restore the key file ${key1} to ${key2}, or point DATA_DIR back to ${first}`), r.out);

      const k = await refusedStart(['--config', cfgWithKey, '--data', first], env);
      assert.notEqual(k.code, 0, k.out);
      assert.match(
        k.out,
        /this server's key comes from DATABASE_SECRET_KEY .*set DATABASE_SECRET_KEY to the key this database was set up with/,
      );

      const again = await spawnServer(['--config', cfg, '--data', first], env);
      try {
        assert.equal(await tokenStatus(again), 200, 'tokens are issued again with the right key');
      } finally {
        await stop(again);
      }
    });

    test('one-shot commands (gc, admin create-user, admin quota-recount) refuse another key the same way and change nothing', async () => {
      const first = path.join(root, 'data-1');
      const other = path.join(root, 'data-3');
      const key1 = path.join(first, 'database-secret.key');
      const key3 = path.join(other, 'database-secret.key');
      const commands: [string[], string][] = [
        [['gc', '--grace', '0'], ''],
        [['admin', 'create-user', 'mallory', '--password-stdin'], 'mallory-password-1\n'],
        [['admin', 'quota-recount'], ''],
      ];
      for (const [args, stdin] of commands) {
        const r = await runCli([...args, '--config', cfg, '--data', other], env, stdin);
        assert.notEqual(r.code, 0, `${args.join(' ')}: ${r.out}`);
        assert.match(r.out, /^berth: the database secret key does not match this database/m, `${args.join(' ')}: ${r.out}`);
        assert.ok(r.out.includes(`set up with the key from ${key1}`), r.out);
        assert.ok(r.out.includes(`this server's key comes from ${key3}`), r.out);
        assert.ok(r.out.includes(`restore the key file ${key1} to ${key3}, or point DATA_DIR back to ${first}`), r.out);
        assert.doesNotMatch(r.out, /created user|deleted|recounted/i, r.out);
      }
      const k = await runCli(['gc', '--config', cfgWithKey, '--data', first], env);
      assert.notEqual(k.code, 0, k.out);
      assert.match(
        k.out,
        /this server's key comes from DATABASE_SECRET_KEY .*set DATABASE_SECRET_KEY to the key this database was set up with/,
      );
      // Nothing was created: with the right key mallory does not exist, is created now, and gc runs.
      const made = await runCli(
        ['admin', 'create-user', 'mallory', '--password-stdin', '--config', cfg, '--data', first],
        env,
        'mallory-password-1\n',
      );
      assert.equal(made.code, 0, made.out);
      assert.match(made.out, /created user mallory/);
      const gc = await runCli(['gc', '--config', cfg, '--data', first], env);
      assert.equal(gc.code, 0, gc.out);
    });
  });
}
