#!/usr/bin/env node
// Blob storage side by side: push and pull through Berth on local disk, on S3 (s3rver, a separate process) with
// GETs redirected to presigned URLs (the default), and on S3 with FEATURE_PROXY_STORAGE (streamed through Berth).
// Same machine, same data, the three servers measured in turn for --rounds rounds (order rotated); medians.
//
//   node bench/storage.mjs [--big-mib 256] [--chunk-mib 8] [--small 200] [--conc 16] [--rounds 3] [--json FILE]
//
// Scenarios per server:
//   push_big    one blob of --big-mib MiB: POST, PATCH chunks of --chunk-mib MiB, PUT ?digest=   -> MB/s
//   pull_big    GET of it (following a 307 to the store), body read and hashed                  -> MB/s
//   push_small  --small blobs of 4-64 KiB, monolithic POST ?digest=, --conc at once              -> blobs/s
//   pull_small  GETs of those blobs (following redirects), --conc at once                        -> blobs/s
// s3rver is a Node process that writes every object to files (and MD5s it): it is the floor of the S3 figures
// here, not Amazon S3 or MinIO. Plain Node ESM; servers and temp dirs are removed whatever happens.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { cpuSeconds, freePort, makeTempDir, parseArgs, ROOT } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), { 'big-mib': 256, 'chunk-mib': 8, small: 200, conc: 16, rounds: 3, json: '' });
const log = (s) => process.stderr.write(`${s}\n`);
const live = new Set();
const cleanup = () => {
  for (const c of live) {
    try {
      c.child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    if (c.dir) rmSync(c.dir, { recursive: true, force: true });
  }
  live.clear();
};
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM'])
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function request(method, url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method, agent, headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...headers } },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** GET following redirects; hashes the body as it arrives, returns [status, bytes, sha256]. */
function download(url, hops = 0) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        if (res.statusCode === 307 || res.statusCode === 302) {
          res.resume();
          if (hops > 3) return reject(new Error('too many redirects'));
          return download(new URL(res.headers.location, url).toString(), hops + 1).then(resolve, reject);
        }
        const h = createHash('sha256');
        let n = 0;
        res.on('data', (c) => {
          h.update(c);
          n += c.length;
        });
        res.on('end', () => resolve([res.statusCode, n, `sha256:${h.digest('hex')}`]));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function waitFor(url, ok) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const status = await request('GET', url).then(
      (r) => r.status,
      () => 0,
    );
    if (ok.includes(status)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

async function startS3rver() {
  const dir = makeTempDir(undefined, 'berth-bench-s3rver-');
  const port = await freePort();
  const env = { ...process.env };
  delete env.OPENSSL_CONF;
  if (env.NODE_OPTIONS) env.NODE_OPTIONS = env.NODE_OPTIONS.replace(/--enable-fips|--force-fips/g, '');
  const child = spawn(
    process.execPath,
    [
      path.join(ROOT, 'node_modules/s3rver/bin/s3rver.js'),
      '-d',
      dir,
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '--silent',
      '--configure-bucket',
      'bench',
    ],
    { stdio: 'ignore', env },
  );
  live.add({ child, dir });
  await waitFor(`http://127.0.0.1:${port}/`, [200, 403]);
  return { port, child };
}

async function startBerth(name, storage) {
  const dir = makeTempDir(undefined, `berth-bench-${name}-`);
  const port = await freePort();
  const cfg = path.join(dir, 'config.yaml');
  writeFileSync(cfg, `AUTHENTICATION_TYPE: None\nFEATURE_SECURITY_SCANNER: false\n${storage}`);
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin/berth.js'), 'serve', '--config', cfg, '--listen', `127.0.0.1:${port}`, '--data', path.join(dir, 'data')],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  live.add({ child, dir });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/v2/`, [200]);
  return { name, url, child };
}

async function pushBig(url, repo, data) {
  const chunk = opt['chunk-mib'] * 1024 * 1024;
  const t0 = performance.now();
  const start = await request('POST', `${url}/v2/${repo}/blobs/uploads/`);
  let loc = new URL(start.headers.location, url).toString();
  for (let off = 0; off < data.length; off += chunk) {
    const part = data.subarray(off, off + chunk);
    const r = await request('PATCH', loc, part, {
      'content-type': 'application/octet-stream',
      'content-range': `${off}-${off + part.length - 1}`,
    });
    if (r.status !== 202) throw new Error(`PATCH ${r.status}: ${r.body}`);
    loc = new URL(r.headers.location, url).toString();
  }
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const u = new URL(loc);
  u.searchParams.set('digest', digest);
  const put = await request('PUT', u.toString());
  if (put.status !== 201) throw new Error(`PUT ${put.status}: ${put.body}`);
  return { digest, seconds: (performance.now() - t0) / 1000 };
}

async function pool(n, conc, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** CPU seconds of Berth and of s3rver during fn (from /proc): far less sensitive to a busy machine than throughput. */
async function cpu(server, fn, into, key) {
  const b0 = cpuSeconds(server.child.pid) ?? 0;
  const s0 = cpuSeconds(s3.child.pid) ?? 0;
  const r = await fn();
  into[`${key}_cpu`] = +((cpuSeconds(server.child.pid) ?? 0) - b0).toFixed(2);
  into[`${key}_s3cpu`] = +((cpuSeconds(s3.child.pid) ?? 0) - s0).toFixed(2);
  return r;
}

async function measure(server, round) {
  const repo = `bench/${server.name}-${round}`;
  const data = randomBytes(opt['big-mib'] * 1024 * 1024);
  const c = {};
  const push = await cpu(server, () => pushBig(server.url, repo, data), c, 'push_big');
  const t1 = performance.now();
  const [status, n, got] = await cpu(server, () => download(`${server.url}/v2/${repo}/blobs/${push.digest}`), c, 'pull_big');
  const pullSeconds = (performance.now() - t1) / 1000;
  if (status !== 200 || n !== data.length || got !== push.digest)
    throw new Error(`${server.name}: pull_big gave ${status}, ${n} bytes, ${got}`);
  const smalls = Array.from({ length: opt.small }, (_, i) => randomBytes(4096 + ((i * 7919) % (60 * 1024))));
  const digests = smalls.map((b) => `sha256:${createHash('sha256').update(b).digest('hex')}`);
  const t2 = performance.now();
  await cpu(
    server,
    () =>
      pool(smalls.length, opt.conc, async (i) => {
        const r = await request('POST', `${server.url}/v2/${repo}/blobs/uploads/?digest=${digests[i]}`, smalls[i], {
          'content-type': 'application/octet-stream',
        });
        if (r.status !== 201) throw new Error(`${server.name}: small push ${r.status}: ${r.body}`);
      }),
    c,
    'push_small',
  );
  const pushSmall = (performance.now() - t2) / 1000;
  const t3 = performance.now();
  await cpu(
    server,
    () =>
      pool(smalls.length, opt.conc, async (i) => {
        const [s, , d] = await download(`${server.url}/v2/${repo}/blobs/${digests[i]}`);
        if (s !== 200 || d !== digests[i]) throw new Error(`${server.name}: small pull ${s}`);
      }),
    c,
    'pull_small',
  );
  const pullSmall = (performance.now() - t3) / 1000;
  const mb = data.length / 1e6;
  return {
    push_big: +(mb / push.seconds).toFixed(1),
    pull_big: +(mb / pullSeconds).toFixed(1),
    push_small: +(smalls.length / pushSmall).toFixed(0),
    pull_small: +(smalls.length / pullSmall).toFixed(0),
    ...c,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const s3 = await startS3rver();
const s3cfg = (prefix) =>
  `DISTRIBUTED_STORAGE_CONFIG:\n  default: [S3Storage, {host: "http://127.0.0.1", port: ${s3.port}, s3_bucket: bench, s3_access_key: S3RVER, s3_secret_key: S3RVER, s3_region: us-east-1, storage_path: /${prefix}}]\n`;
const servers = [
  await startBerth('local', ''),
  await startBerth('s3-redirect', s3cfg('redirect')),
  await startBerth('s3-proxy', `${s3cfg('proxy')}FEATURE_PROXY_STORAGE: true\n`),
];
log(
  `node ${process.version}, ${opt['big-mib']} MiB big blob in ${opt['chunk-mib']} MiB chunks, ${opt.small} small blobs at ${opt.conc} at once, ${opt.rounds} rounds`,
);
const results = Object.fromEntries(servers.map((s) => [s.name, []]));
const keys = ['push_big', 'pull_big', 'push_small', 'pull_small'];
for (let round = 0; round < opt.rounds; round++) {
  for (let k = 0; k < servers.length; k++) {
    const s = servers[(round + k) % servers.length];
    const r = await measure(s, round);
    results[s.name].push(r);
    log(
      `round ${round + 1} ${s.name.padEnd(12)} push_big ${r.push_big} MB/s  pull_big ${r.pull_big} MB/s  push_small ${r.push_small}/s  pull_small ${r.pull_small}/s` +
        `  (Berth CPU s: ${keys.map((k) => r[`${k}_cpu`]).join('/')}; s3rver: ${keys.map((k) => r[`${k}_s3cpu`]).join('/')})`,
    );
  }
}
const cols = [...keys, ...keys.map((k) => `${k}_cpu`), ...keys.map((k) => `${k}_s3cpu`)];
const summary = Object.fromEntries(
  servers.map((s) => [s.name, Object.fromEntries(cols.map((k) => [k, median(results[s.name].map((r) => r[k]))]))]),
);
console.log('\n| storage | push big (MB/s) | pull big (MB/s) | push small (blobs/s) | pull small (blobs/s) |');
console.log('|---|---:|---:|---:|---:|');
for (const s of servers) console.log(`| ${s.name} | ${keys.map((k) => summary[s.name][k]).join(' | ')} |`);
console.log('\nCPU seconds per scenario, Berth (+ s3rver):\n');
console.log('| storage | push big | pull big | push small | pull small |');
console.log('|---|---:|---:|---:|---:|');
for (const s of servers)
  console.log(`| ${s.name} | ${keys.map((k) => `${summary[s.name][`${k}_cpu`]} (+${summary[s.name][`${k}_s3cpu`]})`).join(' | ')} |`);
if (opt.json) writeFileSync(opt.json, JSON.stringify({ opt, node: process.version, results, summary }, null, 2));
agent.destroy();
cleanup();
