import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { describeStorage } from "../storage/open.js";
const TIMEOUT_MS = 5e3;
const NO_STATE = {
  create: () => Promise.reject(new Error("not used")),
  get: () => Promise.resolve(null),
  swap: () => Promise.resolve(null),
  delete: () => Promise.resolve(),
  list: () => Promise.resolve([])
};
function writableDir(p) {
  let dir = p;
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    accessSync(dir, constants.W_OK);
    return void 0;
  } catch (e) {
    return `${dir} is not writable (${e.code})`;
  }
}
async function checkStorage(config) {
  const s = config.storage;
  const what = `storage (${s.configKey}, ${describeStorage(s)})`;
  if (s.kind === "local") {
    const problem = writableDir(s.path);
    return { what, ok: !problem, detail: problem ?? "writable" };
  }
  const { S3BlobStore } = await import("../storage/s3-blobstore.js");
  const store = new S3BlobStore(s, NO_STATE);
  try {
    await store.check();
    return { what, ok: true, detail: "bucket reachable; listing, writing and deleting under the prefix work" };
  } catch (e) {
    return { what, ok: false, detail: e.message.replace(`${s.configKey} (${store.describe}): `, "") };
  } finally {
    store.close();
  }
}
async function checkDatabase(config) {
  if (config.db.kind === "sqlite") {
    const problem = config.db.file === ":memory:" ? void 0 : writableDir(path.dirname(config.db.file));
    return { what: `database (DB_URI, SQLite ${config.db.file})`, ok: !problem, detail: problem ?? "directory writable" };
  }
  const u = new URL(config.db.uri);
  const what = `database (DB_URI, PostgreSQL ${u.hostname}:${u.port || 5432}${u.pathname})`;
  const client = new pg.Client({ connectionString: config.db.uri, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS });
  try {
    await client.connect();
    const r = await client.query("select version() as v");
    return { what, ok: true, detail: r.rows[0].v.split(" ").slice(0, 2).join(" ") };
  } catch (e) {
    return { what, ok: false, detail: `${e.code ?? ""} ${e.message}`.trim() };
  } finally {
    await client.end().catch(() => void 0);
  }
}
function redisTargets(raw) {
  const out = [];
  const cache = raw.DATA_MODEL_CACHE_CONFIG;
  const primary = cache?.engine === "redis" ? cache.redis_config?.primary : void 0;
  if (primary && typeof primary.host === "string") {
    out.push({ key: "DATA_MODEL_CACHE_CONFIG.redis_config.primary", host: primary.host, port: Number(primary.port ?? 6379), password: primary.password, ssl: !!primary.ssl });
  }
  const pull = raw.PULL_METRICS_REDIS;
  if (pull && typeof pull.host === "string") {
    out.push({ key: "PULL_METRICS_REDIS", host: pull.host, port: Number(pull.port ?? 6379), password: pull.password, ssl: !!pull.ssl });
  }
  return out;
}
async function checkRedis(t) {
  const { Redis } = await import("ioredis");
  const what = `redis (${t.key}, ${t.host}:${t.port})`;
  const client = new Redis({
    host: t.host,
    port: t.port,
    password: t.password || void 0,
    tls: t.ssl ? {} : void 0,
    lazyConnect: true,
    connectTimeout: TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false
  });
  let lastError;
  client.on("error", (e) => {
    lastError = e;
  });
  try {
    await client.connect();
    const pong = await client.ping();
    return { what, ok: pong === "PONG", detail: pong === "PONG" ? "PING answered" : `PING answered ${pong}` };
  } catch (e) {
    const err = lastError ?? e;
    return { what, ok: false, detail: `${err.code ?? ""} ${err.message}`.trim() };
  } finally {
    client.disconnect();
  }
}
async function checkConnections(config) {
  return Promise.all([
    checkStorage(config),
    checkDatabase(config),
    ...redisTargets(config.raw).map(checkRedis)
  ]);
}
export {
  checkConnections
};
//# sourceMappingURL=check-connections.js.map
