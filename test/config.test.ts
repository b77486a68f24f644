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
  const f = file(
    'bad.yaml',
    ['PREFERRED_URL_SCHEME: ftp', 'DISTRIBUTED_STORAGE_CONFIG:', '  default:', '    - LocalStorage', '    - {}', 'LISTEN: nowhere'].join(
      '\n',
    ),
  );
  const r = berth('config', 'validate', f);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.default\.storage_path: required$/m);
  assert.match(r.stderr, /^PREFERRED_URL_SCHEME: /m);
  assert.match(r.stderr, /^LISTEN: must be HOST:PORT/m);
});

test('config validate accepts a Quay-style config', () => {
  const f = file(
    'good.yaml',
    [
      'SERVER_HOSTNAME: registry.example.com',
      'PREFERRED_URL_SCHEME: https',
      'DB_URI: postgresql://quay@db/quay',
      'DISTRIBUTED_STORAGE_CONFIG:',
      '  default:',
      '    - LocalStorage',
      '    - storage_path: /datastorage/registry',
      'DISTRIBUTED_STORAGE_PREFERENCE: [default]',
      'FEATURE_SECURITY_SCANNER: false',
    ].join('\n'),
  );
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
  const unknownDriver = berth(
    'config',
    'validate',
    file('swift.yaml', 'DISTRIBUTED_STORAGE_CONFIG:\n  default: [SwiftStorage, {storage_path: /x}]\n'),
  );
  assert.equal(unknownDriver.status, 1);
  assert.match(
    unknownDriver.stderr,
    /DISTRIBUTED_STORAGE_CONFIG\.default\.driver: unsupported storage driver "SwiftStorage" \(supported: LocalStorage, S3Storage, RadosGWStorage, RHOCSStorage\)/,
  );
  // S3Storage with Quay's keys: a missing bucket is named by its key.
  const noBucket = berth(
    'config',
    'validate',
    file('s3.yaml', 'DISTRIBUTED_STORAGE_CONFIG:\n  default: [S3Storage, {storage_path: /x}]\n'),
  );
  assert.equal(noBucket.status, 1);
  assert.match(noBucket.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.default\.s3_bucket: required$/m);
});

test('serve refuses an invalid config with the same message', () => {
  const f = file('bad2.yaml', 'DISTRIBUTED_STORAGE_CONFIG:\n  default: [LocalStorage, {}]\n');
  const r = spawnSync(process.execPath, [BERTH_BIN, 'serve', '--config', f, '--listen', '127.0.0.1:0'], {
    encoding: 'utf8',
    timeout: 20000,
  });
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
    // No SERVER_HOSTNAME: the realm names the address the client used, not localhost:8080 (issue 13, defect 1).
    const hostPort = new URL(s.url).host;
    assert.equal(r.headers.get('www-authenticate'), `Bearer realm="http://${hostPort}/v2/auth",service="${hostPort}"`);
    assert.equal(r.headers.get('docker-distribution-api-version'), 'registry/2.0');
    const { existsSync } = await import('node:fs');
    assert.ok(existsSync(dbFile), 'the SQLite file named by DB_URI was created');
  } finally {
    s.proc.kill('SIGTERM');
    assert.equal(await s.exited, 0);
  }
});

test('scanner keys are overridden by environment variables of the same name; bad values are named', async () => {
  const { loadConfig, ConfigError } = await import('../src/config/load.ts');
  const f = file(
    'scanner.yaml',
    [
      'SECURITY_SCANNER_V4_ENDPOINT: http://clair.example:6060',
      'SECURITY_SCANNER_V4_PSK: ZmlsZS1wc2s=',
      'SCANNER_WORKERS: 1',
      'SCANNER_UPDATERS: [osv-npm]',
    ].join('\n'),
  );
  const fromFile = loadConfig({ file: f, data: dir, env: {} }).raw;
  assert.equal(fromFile.SECURITY_SCANNER_V4_ENDPOINT, 'http://clair.example:6060');
  assert.equal(fromFile.SECURITY_SCANNER_V4_PSK, 'ZmlsZS1wc2s=');
  const raw = loadConfig({
    file: f,
    data: dir,
    env: {
      SECURITY_SCANNER_V4_ENDPOINT: 'http://scanner.internal:6060',
      SECURITY_SCANNER_V4_PSK: 'ZW52LXBzaw==',
      SCANNER_WORKERS: '3',
      SCANNER_MAX_ATTEMPTS: '7',
      SCANNER_LEASE_SECONDS: '120',
      SCANNER_UPDATE_INTERVAL_SECONDS: '3600',
      FEATURE_SECURITY_SCANNER: 'false',
      SCANNER_PROXY: 'http://proxy.internal:3128',
      SCANNER_UPDATERS: 'osv-pypi, debian-tracker',
      SCANNER_UPDATER_BASE_URLS: '{"osv-pypi": "http://mirror.internal/osv"}',
      SCANNER_NOTIFICATION_WEBHOOK: '{"url": "http://hooks.internal/berth", "secret": "0123456789abcdef-secret"}',
    },
  }).raw;
  assert.equal(raw.SECURITY_SCANNER_V4_ENDPOINT, 'http://scanner.internal:6060');
  assert.equal(raw.SECURITY_SCANNER_V4_PSK, 'ZW52LXBzaw==');
  assert.equal(raw.SCANNER_WORKERS, 3);
  assert.equal(raw.SCANNER_MAX_ATTEMPTS, 7);
  assert.equal(raw.SCANNER_LEASE_SECONDS, 120);
  assert.equal(raw.SCANNER_UPDATE_INTERVAL_SECONDS, 3600);
  assert.equal(raw.FEATURE_SECURITY_SCANNER, false);
  assert.equal(raw.SCANNER_PROXY, 'http://proxy.internal:3128');
  assert.deepEqual(raw.SCANNER_UPDATERS, ['osv-pypi', 'debian-tracker']);
  assert.deepEqual(raw.SCANNER_UPDATER_BASE_URLS, { 'osv-pypi': 'http://mirror.internal/osv' });
  assert.deepEqual(raw.SCANNER_NOTIFICATION_WEBHOOK, { url: 'http://hooks.internal/berth', secret: '0123456789abcdef-secret' });

  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ file: f, data: dir, env });
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems.join('\n');
    }
    assert.fail('the config was accepted');
  };
  assert.match(problems({ SECURITY_SCANNER_V4_ENDPOINT: 'not a url' }), /^SECURITY_SCANNER_V4_ENDPOINT: /m);
  assert.match(problems({ SCANNER_WORKERS: 'many' }), /^SCANNER_WORKERS \(environment\): must be a number$/m);
  assert.match(problems({ SCANNER_WORKERS: '500' }), /^SCANNER_WORKERS: /m);
  assert.match(problems({ FEATURE_SECURITY_SCANNER: 'maybe' }), /^FEATURE_SECURITY_SCANNER \(environment\): must be true or false$/m);
  assert.match(
    problems({ SCANNER_NOTIFICATION_WEBHOOK: 'http://hooks.internal' }),
    /^SCANNER_NOTIFICATION_WEBHOOK \(environment\): must be a JSON object/m,
  );
  assert.match(
    problems({ SCANNER_NOTIFICATION_WEBHOOK: '{"url": "http://hooks.internal", "secret": "short"}' }),
    /^SCANNER_NOTIFICATION_WEBHOOK\.secret: /m,
  );
  assert.match(problems({ SCANNER_UPDATER_BASE_URLS: '["x"]' }), /^SCANNER_UPDATER_BASE_URLS \(environment\): must be a JSON object$/m);
});

test("Quay's S3 storage shapes: S3Storage, RadosGWStorage and RHOCSStorage resolve to endpoints; bad keys are named", async () => {
  const { loadConfig } = await import('../src/config/load.ts');
  const load = (doc: string) => loadConfig({ file: file(`s3-${Math.random().toString(36).slice(2)}.yaml`, doc), env: {} });
  const aws = load(
    'DISTRIBUTED_STORAGE_CONFIG:\n  s3: [S3Storage, {s3_bucket: reg, s3_region: eu-west-1, s3_access_key: AK, s3_secret_key: SK, storage_path: /registry/}]\n',
  );
  assert.deepEqual(aws.storage, {
    kind: 's3',
    configKey: 'DISTRIBUTED_STORAGE_CONFIG.s3',
    driver: 'S3Storage',
    bucket: 'reg',
    region: 'eu-west-1',
    endpoint: undefined,
    forcePathStyle: false,
    credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' },
    prefix: 'registry',
  });
  assert.equal(aws.proxyStorage, false);
  const minio = load(
    'DISTRIBUTED_STORAGE_CONFIG:\n  m: [S3Storage, {s3_bucket: reg, host: minio.local, port: 9000}]\nFEATURE_PROXY_STORAGE: true\n',
  );
  assert.equal(minio.storage.kind === 's3' && minio.storage.endpoint, 'https://minio.local:9000');
  assert.equal(minio.storage.kind === 's3' && minio.storage.forcePathStyle, true);
  assert.equal(minio.storage.kind === 's3' && minio.storage.credentials, undefined, 'no keys: the AWS default credential chain');
  assert.equal(minio.storage.kind === 's3' && minio.storage.prefix, 'registry', 'storage_path defaults to /registry');
  assert.equal(minio.proxyStorage, true);
  for (const driver of ['RadosGWStorage', 'RHOCSStorage']) {
    const c = load(
      `DISTRIBUTED_STORAGE_CONFIG:\n  default: [${driver}, {hostname: rgw.local, port: 8080, is_secure: false, access_key: A, secret_key: S, bucket_name: b, storage_path: /x/y}]\n`,
    );
    assert.equal(c.storage.kind === 's3' && c.storage.endpoint, 'http://rgw.local:8080');
    assert.equal(c.storage.kind === 's3' && c.storage.prefix, 'x/y');
    assert.equal(c.storage.kind === 's3' && c.storage.forcePathStyle, true);
  }
  const bad = berth(
    'config',
    'validate',
    file(
      's3-bad.yaml',
      [
        'DISTRIBUTED_STORAGE_CONFIG:',
        '  a: [S3Storage, {s3_bucket: b, s3_access_key: only-the-key, port: 70000}]',
        '  c: [RadosGWStorage, {hostname: h, is_secure: "yes", access_key: A, secret_key: S}]',
        '  d: [RHOCSStorage, nope]',
        '',
      ].join('\n'),
    ),
  );
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.a\.port: must be a port number/m);
  assert.match(bad.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.a\.s3_secret_key: s3_access_key and s3_secret_key go together/m);
  assert.match(bad.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.c\.is_secure: must be true or false$/m);
  assert.match(bad.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.c\.bucket_name: required$/m);
  assert.match(bad.stderr, /^DISTRIBUTED_STORAGE_CONFIG\.d(\.\S*)?: must be a mapping of storage parameters$/m);
  assert.doesNotMatch(bad.stderr, /only-the-key/);
});

test('HTTP_PROXY, HTTPS_PROXY and NO_PROXY of the environment: the default outbound proxy; bad values are named, never shown', async () => {
  const { loadConfig, ConfigError } = await import('../src/config/load.ts');
  assert.equal(loadConfig({ data: dir, env: {} }).outboundProxy, undefined);
  assert.equal(loadConfig({ data: dir, env: { NO_PROXY: 'localhost' } }).outboundProxy, undefined, 'NO_PROXY alone names no proxy');
  assert.deepEqual(
    loadConfig({
      data: dir,
      env: { HTTP_PROXY: 'http://u:p@proxy.example:3128', HTTPS_PROXY: 'proxy.example:3129', NO_PROXY: '.internal, 10.0.0.1' },
    }).outboundProxy,
    { http_proxy: 'http://u:p@proxy.example:3128', https_proxy: 'http://proxy.example:3129', no_proxy: '.internal, 10.0.0.1' },
  );
  // The lower-case name wins (as curl and Python requests read them); an empty value is unset.
  assert.deepEqual(
    loadConfig({
      data: dir,
      env: {
        https_proxy: 'http://lower.example:1',
        HTTPS_PROXY: 'http://upper.example:2',
        http_proxy: '',
        HTTP_PROXY: 'http://h.example:3',
      },
    }).outboundProxy,
    { https_proxy: 'http://lower.example:1', http_proxy: 'http://h.example:3' },
  );
  for (const [env, says] of [
    [{ HTTPS_PROXY: 'socks5://u:s3cret@proxy.example:1080' }, /HTTPS_PROXY \(environment\): uses the scheme socks5:\/\//],
    [{ http_proxy: 'http://u:s3cret@proxy.example:99999' }, /http_proxy \(environment\): .*port must be 1-65535/],
    [{ HTTP_PROXY: 'http://proxy.example:3128', NO_PROXY: 'https://registry.example' }, /NO_PROXY \(environment\): entry .* is a URL/],
  ] as const) {
    assert.throws(
      () => loadConfig({ data: dir, env }),
      (e: Error) => e instanceof ConfigError && says.test(e.message) && !e.message.includes('s3cret'),
    );
  }
});
