// HTTPS: certificate hot reload (new TLS connections get the new certificate with no restart; a broken or
// mismatched pair keeps the old one and logs why) and the plain-HTTP side listener (HTTP_LISTEN) serving the same app.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import https from 'node:https';
import { mkdtempSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { startServer, freePort, type TestServer } from './helpers/server.ts';
import { api, basic } from './helpers/accounts.ts';
import { initCertificates, certificateNames } from '../src/startup/certs.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const dir = mkdtempSync(path.join(tmpdir(), 'berth-tls-'));
const made = path.join(dir, 'made');
const live = { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };

/** Writes a file the way a certificate tool should: a temporary file renamed into place. */
function put(file: string, data: Buffer | string): void {
  writeFileSync(`${file}.tmp`, data);
  renameSync(`${file}.tmp`, file);
}
/** A fresh server certificate and key from the same local CA. */
async function newPair(): Promise<{ cert: Buffer; key: Buffer; fingerprint: string }> {
  const r = await initCertificates(made, certificateNames('localhost'));
  const cert = readFileSync(r.serverCert);
  return { cert, key: readFileSync(r.serverKey), fingerprint: new X509Certificate(cert).fingerprint256 };
}

describe('HTTPS with hot reload and a plain-HTTP side listener', () => {
  let s: TestServer;
  let log = '';
  let ca: Buffer;
  let first: Awaited<ReturnType<typeof newPair>>;
  let port: number;

  before(async () => {
    first = await newPair();
    ca = readFileSync(path.join(made, 'ca.crt'));
    put(live.cert, first.cert);
    put(live.key, first.key);
    const stream = new Writable({
      write(chunk, _enc, cb) {
        log += chunk;
        cb();
      },
    });
    s = await startServer(
      'sqlite',
      {},
      {
        auth: true,
        config: {
          PREFERRED_URL_SCHEME: 'https',
          TLS_CERT_FILE: live.cert,
          TLS_KEY_FILE: live.key,
          HTTP_LISTEN: `127.0.0.1:${await freePort()}`,
          BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
        },
        logger: { level: 'info', stream },
      },
    );
    port = Number(new URL(s.url).port);
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The SHA-256 fingerprint of the certificate a new TLS connection gets (verified against the CA). */
  const served = () =>
    new Promise<string>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => {
        const fp = c.getPeerX509Certificate()!.fingerprint256;
        c.end();
        resolve(fp);
      });
      c.once('error', reject);
    });
  async function waitFor(what: string, cond: () => Promise<boolean> | boolean, ms = 15_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await cond()) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.fail(
      `timed out waiting: ${what}\n${log
        .split('\n')
        .filter((l) => l.includes('tls_'))
        .join('\n')}`,
    );
  }
  const count = (re: RegExp) => (log.match(new RegExp(re.source, 'g')) ?? []).length;

  test('a replaced certificate is served to new connections without a restart', async () => {
    assert.match(s.url, /^https:/);
    assert.equal(await served(), first.fingerprint);
    const second = await newPair();
    assert.notEqual(second.fingerprint, first.fingerprint);
    put(live.key, second.key);
    put(live.cert, second.cert);
    await waitFor('the new certificate', async () => (await served()) === second.fingerprint);
    assert.match(log, /"event":"tls_reloaded"/);
    // The same server keeps answering requests (no restart): the token endpoint over the new certificate.
    const r = await get(`${s.url}/v2/auth?service=${encodeURIComponent(new URL(s.url).host)}`, { authorization: basic(...ADMIN) });
    assert.equal(r.status, 200);
  });

  test('a broken certificate file keeps the previous certificate and logs a clear error', async () => {
    const current = await served();
    const failures = count(/"event":"tls_reload_failed"/);
    const good = readFileSync(live.cert);
    put(live.cert, '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await waitFor('the reload failure in the log', () => count(/"event":"tls_reload_failed"/) > failures);
    const line = log
      .split('\n')
      .filter((l) => l.includes('tls_reload_failed'))
      .at(-1)!;
    assert.match(line, /TLS certificate reload failed; keeping the previous one/);
    assert.match(line, /not valid PEM/, line);
    assert.equal(await served(), current);
    const reloads = count(/"event":"tls_reloaded"/);
    put(live.cert, good);
    // The next test starts from a server that has taken the good pair back.
    await waitFor('the good certificate reloaded', () => count(/"event":"tls_reloaded"/) > reloads);
    assert.equal(await served(), current);
  });

  test('a key that does not match the certificate keeps the previous certificate and says so', async () => {
    const current = await served();
    const failures = count(/"event":"tls_reload_failed"/);
    const other = await newPair();
    put(live.key, other.key); // the certificate on disk is still the old one: a mismatched pair
    await waitFor('the mismatch in the log', () => count(/"event":"tls_reload_failed"/) > failures);
    const line = log
      .split('\n')
      .filter((l) => l.includes('tls_reload_failed'))
      .at(-1)!;
    assert.match(line, /the key does not belong to the certificate/, line);
    assert.equal(await served(), current);
    assert.notEqual(current, other.fingerprint);
    // Completing the pair is picked up.
    put(live.cert, other.cert);
    await waitFor('the completed pair', async () => (await served()) === other.fingerprint);
  });

  test('HTTP_LISTEN serves the same app over plain HTTP', async () => {
    assert.match(s.berth.plainUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    const plain = s.berth.plainUrl!;
    // Registry side: the same challenge (realm on the HTTPS name) from both listeners.
    const v2plain = await fetch(`${plain}/v2/`);
    const v2tls = await get(`${s.url}/v2/`);
    assert.equal(v2plain.status, 401);
    assert.equal(v2tls.status, 401);
    assert.equal(v2plain.headers.get('www-authenticate'), v2tls.headers['www-authenticate']);
    // A change made through one listener is visible through the other (one app, one database).
    const created = await fetch(`${plain}/api/v1/organization/`, {
      method: 'POST',
      headers: { authorization: basic(...ADMIN), 'content-type': 'application/json' },
      body: '{"name":"viaplain"}',
    });
    assert.equal(created.status, 201);
    const seen = await get(`${s.url}/api/v1/organization/viaplain`, { authorization: basic(...ADMIN) });
    assert.equal(seen.status, 200);
    assert.equal(JSON.parse(seen.body).name, 'viaplain');
    assert.equal((await api({ ...s, url: plain }, 'GET', '/user/', ADMIN)).status, 200);
  });

  function get(
    url: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
    return new Promise((resolve, reject) => {
      https
        .get(url, { ca, headers, servername: 'localhost' }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        })
        .once('error', reject);
    });
  }
});
