// The Node lines the Node-compatibility pass runs on (scripts/node-compat.mjs; CI runs it after the Node 20 pass),
// and the test files it runs there: start-up with npm start's flags, the /v2 path, a real client, SQLite (a native
// module built for each Node) and PostgreSQL, crypto, tokens and TLS, layer decompression (gzip, zstd through Node's
// own zlib), and the upload body collection. README ("Node 22 and 24") names the same set.
export const NODE_COMPAT_VERSIONS = ['22.23.5', '24.22.3'];

export const NODE_COMPAT_SET = [
  'test/engines.test.ts', // engines of every package; no API that Node 22 or 24 removed
  'test/start-flags.test.ts', // `npm start`'s V8 flags on this Node: start, a 40 MiB push and pull, the young generation's bound
  'test/body-garbage.test.ts', // upload bodies: a young-generation collection every 4 MiB (src/storage/body-garbage.ts)
  'test/conformance.test.ts', // /v2: the OCI conformance suite, SQLite and PostgreSQL
  'test/clients.test.ts', // real clients (skopeo, podman, buildah, umoci) push and pull, SQLite and PostgreSQL
  'test/sqlite-checkpoint.test.ts', // better-sqlite3 on the main thread and in the checkpoint worker thread
  'test/group-commit.test.ts', // the WAL's fdatasync on the thread pool, SQLite and PostgreSQL
  'test/crypto-boundary.test.ts', // only src/crypto imports node:crypto
  'test/tls.test.ts', // HTTPS, hot reload, TLS policy
  'test/verified-tokens.test.ts', // registry token signing and verification
  'test/accounts-security.test.ts', // PBKDF2 passwords, sealed secrets, bad credentials
  'test/token-standing.test.ts', // token auth end to end, SQLite and PostgreSQL
  'test/scanner-decompression.test.ts', // gzip and zstd layers through every decoder this Node has (zlib's zstd on 22/24)
  'test/scanner-indexer.test.ts', // layer reading, the rpm database (better-sqlite3), big entries streamed
];
