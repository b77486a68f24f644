// Blob pulls go straight from the file to the socket through a few reused buffers (src/storage/pooled-send.ts).
// What a client sees: whole blobs and ranges byte-exact, a client that hangs up mid-pull costs the server nothing
// (no leaked file descriptors, the next pull works), and a blob damaged on disk ends the connection early
// instead of hanging or passing off short data as complete.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, truncateSync, unlinkSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { SPARE_IDLE_MS, spareBuffers } from '../src/storage/pooled-send.ts';
import { pushBlob, sha256 } from './helpers/registry-client.ts';
import { startServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
const big = randomBytes(5 * 1024 * 1024 + 12345); // several pooled buffers, not a multiple of their size
let digest: string;

before(async () => {
  server = await startServer('sqlite');
  digest = (await pushBlob(server.url, 'pull/big', big)).digest;
});
after(() => server.stop());

const openFds = () => readdirSync('/proc/self/fd').length;
const blobFile = (d: string) => {
  const hex = d.slice('sha256:'.length);
  return path.join(server.dataDir, 'blobs', 'blobs', 'sha256', hex.slice(0, 2), hex);
};

/**
 * GETs a blob, reads its first chunk, then stops reading for `pauseMs` (the server fills the socket and its buffers and
 * must wait), runs `meanwhile`, and reads the rest `slowly` (a pause every 64 chunks) or at once. Resolves with the
 * bytes received and the error the body ended with, if any.
 */
function pullPausing(
  url: string,
  { pauseMs, meanwhile, slowly = false }: { pauseMs: number; meanwhile?: () => void; slowly?: boolean },
): Promise<{ bytes: Buffer; err?: Error; length: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const chunks: Buffer[] = [];
      let seen = 0;
      const finish = (err?: Error) => resolve({ bytes: Buffer.concat(chunks), err, length: res.headers['content-length'] });
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        seen++;
        if (seen === 1 || (slowly && seen % 64 === 0)) {
          res.pause();
          setTimeout(
            () => {
              if (seen === 1) meanwhile?.();
              res.resume();
            },
            seen === 1 ? pauseMs : 20,
          );
        }
      });
      res.on('end', () => finish(res.complete ? undefined : new Error('response ended before its Content-Length')));
      res.on('error', (e) => finish(e));
      res.on('aborted', () => finish(new Error('aborted')));
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('TimeoutError: the server left the client waiting')));
  });
}

test('a multi-megabyte blob pulls back byte-exact, with its length and digest headers', async () => {
  const r = await fetch(`${server.url}/v2/pull/big/blobs/${digest}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-length'), String(big.length));
  assert.equal(r.headers.get('docker-content-digest'), digest);
  const body = Buffer.from(await r.arrayBuffer());
  assert.equal(sha256(body), digest);
});

test('the 1 MiB buffers a pull used are kept for the next pull, and let go once pulls pause', async () => {
  const pull = async () => {
    const r = await fetch(`${server.url}/v2/pull/big/blobs/${digest}`);
    assert.equal(sha256(Buffer.from(await r.arrayBuffer())), digest);
  };
  await pull();
  // Up to three: a socket that flushes quickly lets the pull reuse a buffer before it allocates another.
  assert.ok(spareBuffers() >= 1 && spareBuffers() <= 3, `${spareBuffers()} buffers wait for the next pull`);
  await new Promise((r) => setTimeout(r, SPARE_IDLE_MS / 2));
  await pull(); // reuses them and keeps them another SPARE_IDLE_MS
  await new Promise((r) => setTimeout(r, SPARE_IDLE_MS / 2 + 300));
  assert.ok(spareBuffers() >= 1, 'a pull within SPARE_IDLE_MS keeps them');
  await new Promise((r) => setTimeout(r, SPARE_IDLE_MS / 2 + 300));
  assert.equal(spareBuffers(), 0, 'no pull for SPARE_IDLE_MS: released');
  await pull(); // and the next pull allocates them again
  assert.ok(spareBuffers() >= 1);
});

test('ranges across buffer boundaries come back exact', async () => {
  for (const [start, end] of [
    [0, 0],
    [262_143, 262_144],
    [1_000_000, 3_500_000],
    [big.length - 7, big.length - 1],
  ]) {
    const r = await fetch(`${server.url}/v2/pull/big/blobs/${digest}`, { headers: { Range: `bytes=${start}-${end}` } });
    assert.equal(r.status, 206);
    assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${big.length}`);
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), big.subarray(start, end + 1));
  }
});

test('a client hanging up mid-pull leaks no file descriptor and the next pull works', async () => {
  const before = openFds();
  for (let i = 0; i < 5; i++) {
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${server.url}/v2/pull/big/blobs/${digest}`, (res) => {
        res.once('data', () => {
          req.once('close', () => resolve());
          req.destroy();
        });
      });
      req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    });
  }
  // Give the server a moment to notice the closed sockets.
  for (let i = 0; i < 40 && openFds() > before; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(openFds() <= before, `open file descriptors ${openFds()} > ${before} before the aborted pulls`);
  const r = await fetch(`${server.url}/v2/pull/big/blobs/${digest}`);
  assert.equal(sha256(Buffer.from(await r.arrayBuffer())), digest);
});

test('a blob cut short on disk ends the connection early rather than hanging or looking complete', async () => {
  const cut = randomBytes(1024 * 1024);
  const d = (await pushBlob(server.url, 'pull/cut', cut)).digest;
  const hex = d.slice('sha256:'.length);
  truncateSync(path.join(server.dataDir, 'blobs', 'blobs', 'sha256', hex.slice(0, 2), hex), 1000);
  // Promptly: a response ended short of its Content-Length would leave the client waiting for the rest.
  const r = await fetch(`${server.url}/v2/pull/cut/blobs/${d}`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.headers.get('content-length'), String(cut.length));
  const err = await r.arrayBuffer().then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, 'the body must fail, not end quietly after 1000 bytes');
  assert.notEqual(err.name, 'TimeoutError', 'the server must cut the connection, not leave the client waiting');
  const again = await fetch(`${server.url}/v2/pull/big/blobs/${digest}`);
  assert.equal(sha256(Buffer.from(await again.arrayBuffer())), digest, 'the server still serves other pulls');
});

// 24 MiB: more than the server's buffers plus what the kernel holds for a paused reader, so the send really waits.
// Each test its own bytes: blobs are stored by digest, and two tests damaging one file would see each other's damage.
const largeBlob = () => randomBytes(24 * 1024 * 1024 + 777);

test('a client that stops reading for a while and then reads slowly still gets every byte', async () => {
  const large = largeBlob();
  const largeDigest = (await pushBlob(server.url, 'pull/large', large)).digest;
  const r = await pullPausing(`${server.url}/v2/pull/large/blobs/${largeDigest}`, { pauseMs: 1500, slowly: true });
  assert.equal(r.err, undefined);
  assert.equal(r.bytes.length, large.length);
  assert.equal(sha256(r.bytes), largeDigest);
});

test('a blob file cut short while it is being sent ends the connection with an error, not a hang', async () => {
  const large = largeBlob();
  const d = (await pushBlob(server.url, 'pull/shrinks', large)).digest;
  const r = await pullPausing(`${server.url}/v2/pull/shrinks/blobs/${d}`, {
    pauseMs: 500,
    meanwhile: () => truncateSync(blobFile(d), 1024 * 1024),
  });
  assert.equal(r.length, String(large.length));
  assert.ok(r.err, `the body must fail, not end quietly after ${r.bytes.length} bytes`);
  assert.doesNotMatch(r.err.message, /TimeoutError/, 'the server must cut the connection, not leave the client waiting');
  assert.ok(r.bytes.length < large.length);
  const again = await fetch(`${server.url}/v2/pull/big/blobs/${digest}`);
  assert.equal(sha256(Buffer.from(await again.arrayBuffer())), digest, 'the server still serves other pulls');
});

test('a blob file removed while it is being sent is still sent whole (the open file outlives its name)', async () => {
  const d = (await pushBlob(server.url, 'pull/removed', largeBlob())).digest;
  const r = await pullPausing(`${server.url}/v2/pull/removed/blobs/${d}`, { pauseMs: 500, meanwhile: () => unlinkSync(blobFile(d)) });
  assert.equal(r.err, undefined);
  assert.equal(sha256(r.bytes), d);
});
