// `npm start` (and both Containerfiles) run node with V8 flags: a small young generation and a slow-growing old one
// (docs/PERFORMANCE.md), and with MALLOC_ARENA_MAX=2. A Node that dropped or renamed one would refuse to start, and one that ignored it would
// quietly run Berth with several times the memory. On the Node running this test, Berth starts with exactly
// `npm start`'s flags, takes a 40 MiB push as one streamed request body (the upload path that collects the young
// generation every 4 MiB, src/storage/body-garbage.ts) and gives the bytes back, refuses a body whose digest is
// wrong, and runs
// with the young generation the flags ask for. The Node-compatibility pass runs it on Node 22 and 24.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer } from './helpers/server.ts';
import { parseExposition, sampleValue } from './helpers/prometheus.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;

/** The environment and node's own flags in package.json's start script (`[NAME=value ...] node <flags> bin/berth.js serve`). */
function startCommand(): { env: Record<string, string>; flags: string[] } {
  const start: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const m = /^((?:[A-Z_][A-Z0-9_]*=\S+ )*)node((?: --\S+)*) bin\/berth\.js serve$/.exec(start);
  assert.ok(m, `package.json's start script has the shape "[NAME=value ...] node <flags> bin/berth.js serve": ${start}`);
  const env = Object.fromEntries(
    m[1]
      .trim()
      .split(' ')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return { env, flags: m[2].trim().split(' ') };
}

/** One PATCH whose body is `total` bytes written in 64 KiB pieces (as a client streams a layer). */
function streamPatch(url: string, total: number): Promise<{ status: number; digest: string }> {
  const hash = createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(total) },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, digest: `sha256:${hash.digest('hex')}` }));
    });
    let sent = 0;
    const write = () => {
      while (sent < total) {
        const piece = Buffer.alloc(Math.min(64 * 1024, total - sent), (sent / (64 * 1024)) & 0xff);
        hash.update(piece);
        sent += piece.length;
        if (!req.write(piece)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

const dir = mkdtempSync(path.join(tmpdir(), 'berth-start-flags-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("npm start's node flags: Berth starts with them, takes and gives back a 40 MiB push, runs with a 2 MiB semi-space", async () => {
  const { env, flags } = startCommand();
  assert.ok(flags.includes('--max-semi-space-size=2'), flags.join(' '));
  // At most two glibc malloc arenas (docs/PERFORMANCE.md, "Memory, fifth round"): the threads share one.
  assert.equal(env.MALLOC_ARENA_MAX, '2');
  const s = await spawnServer(['--data', path.join(dir, 'data')], { AUTHENTICATION_TYPE: 'None', ...env }, 60_000, flags);
  try {
    const repo = `${s.url}/v2/flags/big`;
    const post = await fetch(`${repo}/blobs/uploads/`, { method: 'POST' });
    assert.equal(post.status, 202);
    const loc = new URL(post.headers.get('location')!, s.url);
    const patched = await streamPatch(loc.href, 40 * MiB);
    assert.equal(patched.status, 202, s.output());

    const put = await fetch(`${loc.href}${loc.search ? '&' : '?'}digest=${patched.digest}`, { method: 'PUT' });
    assert.equal(put.status, 201, await put.text());
    const got = await fetch(`${repo}/blobs/${patched.digest}`);
    assert.equal(got.status, 200);
    const back = createHash('sha256');
    let n = 0;
    for await (const c of got.body as AsyncIterable<Uint8Array>) {
      back.update(c);
      n += c.length;
    }
    assert.equal(n, 40 * MiB);
    assert.equal(`sha256:${back.digest('hex')}`, patched.digest);

    // A body that does not match its digest is refused, and nothing is stored under that digest.
    const wrong = `sha256:${'0'.repeat(64)}`;
    const bad = await fetch(`${repo}/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: Buffer.alloc(5 * MiB, 1) });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { errors: { code: string }[] }).errors[0].code, 'DIGEST_INVALID');
    assert.equal((await fetch(`${repo}/blobs/${wrong}`, { method: 'HEAD' })).status, 404);

    // The server runs on this Node, with the young generation the flags ask for: two semi-spaces of 2 MiB (V8's
    // default would be 16 MiB or more each).
    const metrics = await fetch(`${s.url}/metrics`);
    assert.equal(metrics.status, 200);
    const samples = parseExposition(await metrics.text());
    assert.equal(sampleValue(samples, 'nodejs_version_info', { version: process.version }), 1, 'the server runs on the Node of this test');
    const newSpace = sampleValue(samples, 'nodejs_heap_space_size_total_bytes', { space: 'new' });
    assert.ok(newSpace !== undefined, 'nodejs_heap_space_size_total_bytes{space="new"} is exported');
    assert.ok(newSpace <= 4 * MiB, `the young generation is ${(newSpace / MiB).toFixed(1)} MiB (flags: ${flags.join(' ')})`);
    // ... and with npm start's environment.
    const environ = readFileSync(`/proc/${s.proc.pid}/environ`, 'utf8').split('\0');
    for (const [k, v] of Object.entries(env)) assert.ok(environ.includes(`${k}=${v}`), `the server runs with ${k}=${v}`);
  } finally {
    s.proc.kill('SIGTERM');
    await s.exited;
  }
});
