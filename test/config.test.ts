import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { BERTH_BIN, spawnServer } from './helpers/server.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-config-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
function berth(...args: string[]) {
  return spawnSync(process.execPath, [BERTH_BIN, ...args], { encoding: 'utf8' });
}

test('config validate names every problem with its field path and exits 1', () => {
  const f = file('bad.yaml', [
    'PREFERRED_URL_SCHEME: ftp',
    'DISTRIBUTED_STORAGE_CONFIG:',
    '  default:',
    '    - LocalStorage',
    '    - {}',
    'LISTEN: nowhere',
  ].join('\n'));
  const r = berth('config', 'validate', f);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.default\.storage_path: required$/m);
  assert.match(r.stderr, /^PREFERRED_URL_SCHEME: /m);
  assert.match(r.stderr, /^LISTEN: must be HOST:PORT/m);
});

test('config validate accepts a Quay-style config', () => {
  const f = file('good.yaml', [
    'SERVER_HOSTNAME: registry.example.com',
    'PREFERRED_URL_SCHEME: https',
    'DB_URI: postgresql://quay@db/quay',
    'DISTRIBUTED_STORAGE_CONFIG:',
    '  default:',
    '    - LocalStorage',
    '    - storage_path: /datastorage/registry',
    'DISTRIBUTED_STORAGE_PREFERENCE: [default]',
    'FEATURE_SECURITY_SCANNER: false',
  ].join('\n'));
  const r = berth('config', 'validate', f);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /valid/);
});

test('config validate reports unreadable and malformed files', () => {
  const missing = berth('config', 'validate', path.join(dir, 'nope.yaml'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /cannot read: ENOENT/);
  const broken = berth('config', 'validate', file('broken.yaml', 'a: [1, 2'));
  assert.equal(broken.status, 1);
  assert.match(broken.stderr, /not valid YAML/);
  const unknownDriver = berth('config', 'validate', file('s3.yaml', 'DISTRIBUTED_STORAGE_CONFIG:\n  default: [S3Storage, {storage_path: /x}]\n'));
  assert.equal(unknownDriver.status, 1);
  assert.match(unknownDriver.stderr, /DISTRIBUTED_STORAGE_CONFIG\.default\.driver: unsupported storage driver "S3Storage"/);
});

test('serve refuses an invalid config with the same message', () => {
  const f = file('bad2.yaml', 'DISTRIBUTED_STORAGE_CONFIG:\n  default: [LocalStorage, {}]\n');
  const r = spawnSync(process.execPath, [BERTH_BIN, 'serve', '--config', f, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DISTRIBUTED_STORAGE_CONFIG\.default\.storage_path: required/);
});

test('serve takes storage from config.yaml and DB_URI from the environment', async () => {
  const storage = path.join(dir, 'store');
  const f = file('local.yaml', `DISTRIBUTED_STORAGE_CONFIG:\n  default: [LocalStorage, {storage_path: ${storage}}]\n`);
  const dbFile = path.join(dir, 'env.db');
  const s = await spawnServer(['--config', f, '--data', path.join(dir, 'data')], { DB_URI: `sqlite:///${dbFile}` });
  try {
    assert.match(s.output(), new RegExp(`storage: ${storage.replace(/\//g, '\\/')}`));
    const r = await fetch(`${s.url}/v2/`);
    // Accounts are on by default: /v2/ asks for a token.
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="http:\/\/localhost:8080\/v2\/auth",service="localhost:8080"$/);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const { existsSync } = await import('node:fs');
    assert.ok(existsSync(dbFile), 'the SQLite file named by DB_URI was created');
  } finally {
    s.proc.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  }
});
