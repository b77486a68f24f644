// Berth replicas in this process on one PostgreSQL database, sharing one data directory (the secret key)
// and a real Redis data-model cache (test/helpers/redis.ts), each on its own port, as docs/SCALE-OUT.md
// runs them. For tests of what one replica's write does to another's next request.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { stringify as stringifyYaml } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { createBerth, type Berth } from '../../src/server.ts';
import { basic } from './accounts.ts';
import type { TestRedis } from './redis.ts';
import { freePort } from './server.ts';

export const REPLICA_SERVICE = 'registry.replicas.test';

export interface Replica {
  berth: Berth;
  url: string;
  /** The replica's log lines (JSON), when started with `{ logs: true }`; empty otherwise. */
  logs: string[];
  stop(): Promise<void>;
}

/**
 * A replica with Database auth, BOOTSTRAP_ADMIN `admin`, blobs under `dir`, the Redis cache; `extra` config keys;
 * `opts.logs`: its info-level log kept in `logs` (silent otherwise).
 */
export async function startReplica(
  dir: string,
  dbUri: string,
  redis: TestRedis,
  admin: [string, string],
  extra: Record<string, unknown> = {},
  opts: { logs?: boolean } = {},
): Promise<Replica> {
  const port = await freePort();
  const doc = {
    AUTHENTICATION_TYPE: 'Database',
    SERVER_HOSTNAME: REPLICA_SERVICE,
    PBKDF2_ITERATIONS: 1000,
    LOGIN_FAILURE_LIMIT: 1000,
    BOOTSTRAP_ADMIN: { username: admin[0], password: admin[1] },
    DISTRIBUTED_STORAGE_CONFIG: { local: ['LocalStorage', { storage_path: path.join(dir, 'blobs') }] },
    DATA_MODEL_CACHE_CONFIG: { engine: 'redis', redis_config: { primary: redis.primary } },
    FEATURE_SECURITY_SCANNER: false,
    ...extra,
  };
  const file = path.join(dir, `config-${port}.yaml`);
  writeFileSync(file, stringifyYaml(doc));
  const config = loadConfig({ file, data: dir, listen: `127.0.0.1:${port}`, env: { DB_URI: dbUri } });
  const logs: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const berth = await createBerth(config, { logger: opts.logs ? { level: 'info', stream } : { level: 'silent' } });
  const url = await berth.listen();
  await Promise.all(berth.redis.connections.map((c) => c.ready(5000)));
  return { berth, url, logs, stop: () => berth.close() };
}

/** A registry token from a replica (service REPLICA_SERVICE) for the scopes. */
export async function replicaToken(r: { url: string }, scopes: string[], creds: [string, string]): Promise<string> {
  const q = new URLSearchParams({ service: REPLICA_SERVICE });
  for (const s of scopes) q.append('scope', s);
  const res = await fetch(`${r.url}/v2/auth?${q}`, { headers: { authorization: basic(...creds) } });
  const body = (await res.json()) as { token?: string };
  if (!body.token) throw new Error(`no token from ${r.url}: ${res.status} ${JSON.stringify(body)}`);
  return body.token;
}
