// Starts a real Berth server for a test: in this process (fast) or as a child process (for signals).
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { stringify as stringifyYaml } from 'yaml';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadConfig } from '../../src/config/load.ts';
import { createBerth, type Berth } from '../../src/server.ts';
import { createPostgresDatabase, type TestDialect } from './databases.ts';

export interface TestServer {
  url: string;
  dataDir: string;
  berth: Berth;
  dialect: TestDialect;
  dbUri?: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Real accounts and token auth (default: AUTHENTICATION_TYPE None, the open mode the registry tests use). */
  auth?: boolean;
  /** Extra config.yaml keys. */
  config?: Record<string, unknown>;
  logger?: Parameters<typeof createBerth>[1] extends infer O ? (O extends { logger?: infer L } ? L : never) : never;
}

/** A free TCP port on 127.0.0.1 (the realm in token challenges must name the real port). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** The data directory of the server that created each database: a replica started on it shares that key file. */
const keyDirs = new Map<string, string>();

export async function startServer(
  dialect: TestDialect = 'sqlite',
  env: Record<string, string> = {},
  opts: StartOptions = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'berth-test-'));
  let pgDb: Awaited<ReturnType<typeof createPostgresDatabase>> | undefined;
  if (dialect === 'postgres') pgDb = await createPostgresDatabase();
  if (pgDb) keyDirs.set(pgDb.uri, dataDir);
  // A second replica on a database (env DB_URI) uses the same database secret key, as docs/SCALE-OUT.md requires.
  const keyFrom = env.DB_URI ? keyDirs.get(env.DB_URI) : undefined;
  if (keyFrom && existsSync(path.join(keyFrom, 'database-secret.key')))
    copyFileSync(path.join(keyFrom, 'database-secret.key'), path.join(dataDir, 'database-secret.key'));
  let listen = '127.0.0.1:0';
  const doc: Record<string, unknown> = { AUTHENTICATION_TYPE: 'None' };
  if (opts.auth) {
    const port = await freePort();
    listen = `127.0.0.1:${port}`;
    Object.assign(doc, { AUTHENTICATION_TYPE: 'Database', SERVER_HOSTNAME: listen, PBKDF2_ITERATIONS: 1000 });
  }
  if (process.env.BERTH_FIPS === '1') doc.FEATURE_FIPS = true; // the FIPS run (scripts/run-tests.mjs)
  Object.assign(doc, opts.config ?? {});
  const file = path.join(dataDir, 'config.yaml');
  writeFileSync(file, stringifyYaml(doc));
  const config = loadConfig({ file, data: dataDir, listen, env: { ...env, ...(pgDb ? { DB_URI: pgDb.uri } : {}) } });
  const berth = await createBerth(config, { logger: opts.logger });
  const url = await berth.listen();
  return {
    url,
    dataDir,
    berth,
    dialect,
    dbUri: pgDb?.uri,
    async stop() {
      await berth.close();
      if (pgDb) keyDirs.delete(pgDb.uri);
      await pgDb?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const BERTH_BIN = path.resolve(import.meta.dirname, '../../bin/berth.js');

export interface ChildServer {
  url: string;
  proc: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs `berth serve` as a child process (`nodeArgs`: flags for node itself) and waits until /v2/ answers. */
// The start-up deadline is generous: on a machine shared with other test suites (load 25-40) a start can take 20-30 s.
export async function spawnServer(
  args: string[],
  env: Record<string, string> = {},
  startMs = 60_000,
  nodeArgs: string[] = [],
): Promise<ChildServer> {
  const proc = spawn(process.execPath, [...nodeArgs, BERTH_BIN, 'serve', '--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + startMs;
  while (Date.now() < deadline) {
    const m = /listening on (http:\/\/\S+)/.exec(out);
    if (m) {
      const url = m[1];
      const r = await fetch(`${url}/v2/`).catch(() => undefined);
      if (r?.status === 200 || r?.status === 401) return { url, proc, output: () => out, exited };
    }
    if (proc.exitCode !== null) throw new Error(`berth serve exited ${proc.exitCode}: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`berth serve did not start: ${out}`);
}
