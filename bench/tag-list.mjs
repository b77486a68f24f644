#!/usr/bin/env node
// Tag list pages, per request: what one page of GET /v2/<name>/tags/list costs the server (CPU µs, from
// /proc/PID/stat) and the client (wall ms), beside the floor of any authenticated /v2 request (GET /v2/ and a
// manifest HEAD by tag, both answered from caches), on Berth and, with --baseline, another checkout of Berth
// started the same way, in alternating rounds; --peer adds distribution 2.8 (no auth; it ignores n).
//
//   node bench/tag-list.mjs [--db sqlite|postgres] [--tags 2500] [--rounds 4] [--walks 10] [--reqs 300]
//                           [--auth token|none] [--baseline OTHER/bin/berth.js] [--peer yes|no] [--json FILE]
//
// Per round and server: --reqs sequential GET /v2/ and manifest HEADs (the per-request floor), --walks walks of the
// whole list at n=100 (--tags/100 pages each, following Link), --walks fetches of the whole list in one response
// (no n: Berth's LIST_PAGE_MAX, 10,000), and --walks first pages with n=100. One client, one connection, keep-alive.
import http from 'node:http';
import os from 'node:os';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs, freePort, makeTempDir, removeDir, startBerth, startDistribution, createPostgresDatabase, get } from './lib.mjs';

const opt = parseArgs(process.argv.slice(2), {
  db: 'sqlite',
  tags: 2500,
  rounds: 4,
  walks: 10,
  reqs: 300,
  auth: 'token',
  baseline: '',
  peer: 'no',
  json: '',
  help: '',
});
if (opt.help) {
  process.stdout.write('usage: node bench/tag-list.mjs [--db sqlite|postgres] [--tags N] [--rounds N] [--walks N] [--reqs N]\n');
  process.stdout.write('       [--auth token|none] [--baseline OTHER/bin/berth.js] [--peer yes|no] [--json FILE]\n');
  process.exit(0);
}
const REPO = 'bench/tags';
const load1 = () => os.loadavg()[0].toFixed(1);

function request(base, agent, method, path, headers = {}, body) {
  return new Promise((resolve, reject) => {
    const r = http.request(new URL(path, base), { method, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(body);
  });
}

/** CPU seconds of all the threads of a process, from schedstat (nanoseconds; /proc/PID/stat counts 10 ms ticks). */
function cpuSeconds(pid) {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* the thread ended */
    }
  }
  return ns / 1e9;
}

const sha = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** A server under test: its URL, pid, auth header, and how to stop it. */
async function start(kind, entry) {
  const dir = makeTempDir(os.tmpdir(), `taglist-${kind}-`);
  const port = await freePort();
  let pg;
  let s;
  if (kind === 'peer') s = await startDistribution({ dir, port });
  else {
    if (opt.db === 'postgres') pg = await createPostgresDatabase();
    if (pg && process.env.TAGLIST_HOLD) process.stderr.write(`database ${pg.uri}\n`);
    s = await startBerth({ dir, port, auth: opt.auth, entry, dbUri: pg?.uri });
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const headers = {};
  if (s.credentials) {
    const first = await get(new URL('/v2/', s.url), agent);
    const kv = Object.fromEntries([...String(first.headers['www-authenticate']).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const u = new URL(kv.realm);
    if (kv.service) u.searchParams.set('service', kv.service);
    u.searchParams.set('scope', `repository:${REPO}:pull,push`);
    const basic = 'Basic ' + Buffer.from(`${s.credentials.user}:${s.credentials.pass}`).toString('base64');
    const t = await get(u, agent, { authorization: basic });
    if (t.status !== 200) throw new Error(`token endpoint: HTTP ${t.status} ${t.text}`);
    headers.authorization = `Bearer ${JSON.parse(t.text).token}`;
  }
  // One layer, one config, one manifest, --tags tags on it (16 at a time).
  const put = async (bytes) => {
    const d = sha(bytes);
    const post = await request(s.url, agent, 'POST', `/v2/${REPO}/blobs/uploads/`, { ...headers, 'content-length': '0' });
    if (post.status !== 202) throw new Error(`upload: ${post.status} ${post.text}`);
    const loc = new URL(post.headers.location, s.url);
    loc.searchParams.set('digest', d);
    const r = await request(
      s.url,
      agent,
      'PUT',
      loc.pathname + loc.search,
      { ...headers, 'content-type': 'application/octet-stream' },
      bytes,
    );
    if (r.status !== 201) throw new Error(`blob put: ${r.status} ${r.text}`);
    return { digest: d, size: bytes.length };
  };
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux' })));
  const layer = await put(randomBytes(1024));
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  });
  let next = 0;
  const filled = Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < opt.tags; i = next++) {
        const tag = () =>
          request(
            s.url,
            agent,
            'PUT',
            `/v2/${REPO}/manifests/many-${String(i).padStart(6, '0')}`,
            {
              ...headers,
              'content-type': 'application/vnd.oci.image.manifest.v1+json',
            },
            manifest,
          );
        let r = await tag();
        // A 500 here is not what this benchmark measures: say so, and try once more.
        if (r.status === 500) {
          process.stderr.write(`${kind}: tag ${i} answered 500 (${r.text.slice(0, 200)}); once more\n`);
          r = await tag();
        }
        if (r.status !== 201) throw new Error(`tag ${i}: ${r.status} ${r.text}`);
      }
    }),
  );
  await filled.catch((e) => {
    process.stderr.write(`${kind} log:\n${s.log ?? ''}\n`);
    throw e;
  });
  agent.destroy();
  return {
    kind,
    url: s.url,
    pid: s.pid,
    headers,
    manifest,
    async stop() {
      await s.stop();
      removeDir(dir);
      await pg?.drop();
    },
  };
}

/** `fn` run `times` times on one keep-alive connection: wall ms of each run, server CPU µs per request. */
async function measure(srv, times, fn, before) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const go = (path, method = 'GET') =>
    request(srv.url, agent, method, path, { ...srv.headers, accept: 'application/vnd.oci.image.manifest.v1+json' });
  await fn(go); // warm: the connection, the caches
  let requests = 0;
  const counted = async (path, method) => {
    requests++;
    return go(path, method);
  };
  const walls = [];
  const cpu0 = cpuSeconds(srv.pid);
  let cpu = 0;
  for (let i = 0; i < times; i++) {
    let c0 = cpu0;
    if (before) {
      await before(srv, agent);
      c0 = cpuSeconds(srv.pid);
    }
    const t0 = performance.now();
    await fn(counted);
    walls.push(performance.now() - t0);
    if (before) cpu += cpuSeconds(srv.pid) - c0;
  }
  if (!before) cpu = cpuSeconds(srv.pid) - cpu0;
  agent.destroy();
  walls.sort((a, b) => a - b);
  return { medianMs: walls[walls.length >> 1], minMs: walls[0], requests, cpuUsPerRequest: (cpu * 1e6) / requests };
}

const scenarios = {
  /** GET /v2/ with the token: the floor of any authenticated request. */
  base: (srv) => measure(srv, opt.reqs, async (go) => expect200(await go('/v2/'), 'GET /v2/')),
  /** HEAD of a manifest by tag (the cache answers): the floor of a request about the repository. */
  head: (srv) => measure(srv, opt.reqs, async (go) => expect200(await go(`/v2/${REPO}/manifests/many-000000`, 'HEAD'), 'HEAD manifest')),
  /** The first page at n=100. */
  page: (srv) =>
    measure(srv, opt.reqs, async (go) => expectTags(await go(`/v2/${REPO}/tags/list?n=100`), srv.kind === 'peer' ? opt.tags : 100)),
  /** A walk of the whole list at n=100, following Link, each right after a tag write (as regbench walks). */
  walk: (srv) => measure(srv, opt.walks, walk, retag),
  /** The same walk again, nothing written in between. */
  rewalk: (srv) => measure(srv, opt.walks, walk),
  /** The whole list in one response (no n), right after a tag write. */
  whole: (srv) => measure(srv, opt.walks * 2, whole, retag),
  /** The same, nothing written in between. */
  rewhole: (srv) => measure(srv, opt.walks * 2, whole),
};

async function walk(go) {
  let next = `/v2/${REPO}/tags/list?n=100`;
  let seen = 0;
  while (next) {
    const r = await go(next);
    seen += expectTags(r);
    const m = /<([^>]+)>/.exec(r.headers.link ?? '');
    next = m ? m[1] : null;
  }
  if (seen !== opt.tags) throw new Error(`walk saw ${seen} tags`);
}

async function whole(go) {
  expectTags(await go(`/v2/${REPO}/tags/list`), opt.tags);
}

/** Tags many-000000 again (the same manifest): a tag write, so no cache holds the list. Outside the figures. */
async function retag(srv, agent) {
  const r = await request(
    srv.url,
    agent,
    'PUT',
    `/v2/${REPO}/manifests/many-000000`,
    {
      ...srv.headers,
      'content-type': 'application/vnd.oci.image.manifest.v1+json',
    },
    srv.manifest,
  );
  if (r.status !== 201) throw new Error(`retag: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  // What the write set off in the background (its WAL sync, the scanner's look at the manifest) is not the list's cost.
  await new Promise((res) => setTimeout(res, 30));
}

function expect200(r, what) {
  if (r.status !== 200) throw new Error(`${what}: HTTP ${r.status} ${r.text.slice(0, 200)}`);
}
function expectTags(r, n) {
  expect200(r, 'tags/list');
  const tags = JSON.parse(r.text).tags;
  if (n !== undefined && tags.length !== n) throw new Error(`tags/list: ${tags.length} tags, expected ${n}`);
  return tags.length;
}

const servers = [await start('berth')];
if (opt.baseline) servers.push(await start('baseline', opt.baseline));
if (opt.peer === 'yes') servers.push(await start('peer'));
const results = [];
if (process.env.TAGLIST_HOLD) {
  // For EXPLAIN by hand: print where the servers are, wait for SIGINT/stdin end.
  process.stderr.write(`holding: ${servers.map((s) => `${s.kind} ${s.url} pid ${s.pid}`).join(', ')}\n`);
  await new Promise((r) => process.stdin.on('end', r).resume());
}
try {
  for (let round = 0; round < opt.rounds; round++) {
    const order = round % 2 ? [...servers].reverse() : servers;
    for (const srv of order) {
      for (const [name, run] of Object.entries(scenarios)) {
        const l0 = load1();
        const r = await run(srv);
        results.push({ round, server: srv.kind, scenario: name, ...r, load: `${l0}→${load1()}` });
        process.stderr.write(
          `round ${round} ${srv.kind.padEnd(8)} ${name.padEnd(5)} median ${r.medianMs.toFixed(2)} ms, min ${r.minMs.toFixed(2)} ms, ` +
            `server ${r.cpuUsPerRequest.toFixed(0)} µs CPU/request (${r.requests} requests), load ${l0}→${load1()}\n`,
        );
      }
    }
  }
} finally {
  for (const s of servers) await s.stop();
}

const med = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
console.log(`\n${opt.db}, auth ${opt.auth}, ${opt.tags} tags, ${opt.rounds} rounds (medians over rounds)\n`);
console.log('| Request | Server | wall ms (median) | server CPU µs per request | load |');
console.log('|---|---|---:|---:|---|');
const label = {
  base: 'GET /v2/ (floor)',
  head: 'manifest HEAD by tag (floor)',
  page: 'first page, n=100',
  walk: `walk at n=100 (${opt.tags / 100} pages), after a tag write`,
  rewalk: `walk at n=100 (${opt.tags / 100} pages), again`,
  whole: `whole list, one response (${opt.tags} tags), after a tag write`,
  rewhole: `whole list, one response (${opt.tags} tags), again`,
};
for (const name of Object.keys(scenarios)) {
  for (const srv of servers) {
    const rs = results.filter((r) => r.server === srv.kind && r.scenario === name);
    if (!rs.length) continue;
    console.log(
      `| ${label[name]} | ${srv.kind} | ${med(rs.map((r) => r.medianMs)).toFixed(2)} | ${med(rs.map((r) => r.cpuUsPerRequest)).toFixed(0)} | ${rs[0].load} … ${rs[rs.length - 1].load} |`,
    );
  }
}
if (opt.json) writeFileSync(opt.json, JSON.stringify({ opt, results }, null, 2));
