// GET /metrics: Quay's metric names, counters that follow pushes and pulls, route patterns (never
// raw paths) as labels, cheap cached row counts, the separate port, basic auth, and METRICS_ENABLED=false.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { sql } from 'kysely';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { pushBlob, pushImage, putManifest, sha256 } from './helpers/registry-client.ts';
import { parseExposition, sampleValue, type Sample } from './helpers/prometheus.ts';
import { registryToken } from './helpers/accounts.ts';
import { collectGarbage } from '../src/services/gc.ts';
import { Metrics } from '../src/metrics/registry.ts';
import { accountRowCounts, tableRowCount, EXACT_COUNT_LIMIT } from '../src/metrics/row-counts.ts';
import { ConfigError, loadConfig } from '../src/config/load.ts';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const MANIFEST = '/v2/:name/manifests/:reference';
const BLOB = '/v2/:name/blobs/:digest';

async function scrape(url: string, init: RequestInit = {}): Promise<Sample[]> {
  const r = await fetch(`${url}/metrics`, init);
  assert.equal(r.status, 200, await r.clone().text());
  assert.match(r.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await r.text());
}

/** Every metric the issue and Quay's dashboards name, with its type. */
const REQUIRED: Record<string, string> = {
  quay_org_rows: 'gauge',
  quay_repository_rows: 'gauge',
  quay_user_rows: 'gauge',
  quay_robot_rows: 'gauge',
  quay_registry_image_pulls_total: 'counter',
  quay_registry_image_pushes_total: 'counter',
  quay_registry_image_pulled_estimated_bytes_total: 'counter',
  quay_registry_image_pushed_bytes_total: 'counter',
  quay_authentication_attempts_total: 'counter',
  quay_request_duration_seconds: 'histogram',
  berth_blob_upload_duration_seconds: 'histogram',
  quay_gc_iterations_total: 'counter',
  quay_gc_storage_blobs_deleted_total: 'counter',
  quay_db_pooled_connections_in_use: 'gauge',
  quay_db_pooled_connections_available: 'gauge',
  berth_storage_used_bytes: 'gauge',
  berth_storage_capacity_bytes: 'gauge',
  berth_storage_available_bytes: 'gauge',
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  process_start_time_seconds: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
};

for (const dialect of await testDialects()) {
  describe(`metrics (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect, { METRICS_ROW_COUNT_INTERVAL_SECONDS: '3600' });
    });
    after(() => s.stop());

    test('/metrics names every required metric with its type', async () => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      for (const [name, type] of Object.entries(REQUIRED)) assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), name);
      // The auth series exist before any login (zero-valued), so dashboards and rate() have data.
      const samples = parseExposition(text);
      for (const kind of ['basic', 'bearer']) {
        for (const success of ['True', 'False'])
          assert.equal(sampleValue(samples, 'quay_authentication_attempts_total', { auth_kind: kind, success }), 0);
      }
    });

    test('FIPS mode is visible: berth_fips_mode follows FEATURE_FIPS, berth_fips_provider_active follows the process', async () => {
      const samples = await scrape(s.url);
      const status = (await (await fetch(`${s.url}/api/v1/status`)).json()) as { fips_mode: boolean };
      assert.equal(sampleValue(samples, 'berth_fips_mode', {}), status.fips_mode ? 1 : 0);
      // Independent oracle: whether this test process itself runs on a FIPS provider (CI's BERTH_FIPS=1 run).
      const { getFips } = await import('node:crypto');
      assert.equal(sampleValue(samples, 'berth_fips_provider_active', {}), getFips() === 1 ? 1 : 0);
    });

    test('pushes, pulls and bytes move the Quay counters; labels carry route patterns, never paths', async () => {
      const before = await scrape(s.url);
      const v = (x: Sample[], name: string, labels: Record<string, string> = {}) => sampleValue(x, name, labels) ?? 0;
      const img = await pushImage(s.url, 'metrics/app', 'v1');
      const img2 = await pushImage(s.url, 'metrics/other-app', 'v1', 'other-app');
      for (let i = 0; i < 3; i++) assert.equal((await fetch(`${s.url}/v2/metrics/app/manifests/v1`)).status, 200);
      assert.equal((await fetch(`${s.url}/v2/metrics/app/manifests/${img.digest}`)).status, 200);
      assert.equal((await fetch(`${s.url}/v2/metrics/app/manifests/${encodeURIComponent(img2.digest)}`)).status, 404);
      assert.equal((await fetch(`${s.url}/v2/metrics/app/manifests/missing`)).status, 404);
      assert.equal((await fetch(`${s.url}/v2/metrics/app/manifests/v1`, { method: 'HEAD' })).status, 200);
      const layer = await fetch(`${s.url}/v2/metrics/app/blobs/${img.layer.digest}`);
      assert.equal(sha256(Buffer.from(await layer.arrayBuffer())), img.layer.digest);
      const part = await fetch(`${s.url}/v2/metrics/app/blobs/${img.layer.digest}`, { headers: { range: 'bytes=0-9' } });
      assert.equal(part.status, 206);
      await part.arrayBuffer();
      assert.equal((await fetch(`${s.url}/v2/metrics/app/blobs/${img.config.digest}`, { method: 'HEAD' })).status, 200);
      const bad = await putManifest(s.url, 'metrics/app', 'broken', Buffer.from('{"schemaVersion":2}'), 'application/x-made-up');
      assert.equal(bad.status, 400);
      assert.equal((await fetch(`${s.url}/api/v1/no/such/page`)).status, 404);

      const after = await scrape(s.url);
      const d = (name: string, labels: Record<string, string> = {}) => v(after, name, labels) - v(before, name, labels);
      assert.equal(d('quay_registry_image_pulls_total', { protocol: 'v2', ref: 'tag', status: '200' }), 3);
      assert.equal(d('quay_registry_image_pulls_total', { protocol: 'v2', ref: 'manifest', status: '200' }), 1);
      assert.equal(d('quay_registry_image_pulls_total', { protocol: 'v2', ref: 'manifest', status: '404' }), 1);
      assert.equal(d('quay_registry_image_pulls_total', { protocol: 'v2', ref: 'tag', status: '404' }), 1);
      assert.equal(d('quay_registry_image_pushes_total', { protocol: 'v2', status: '201', media_type: OCI }), 2);
      assert.equal(d('quay_registry_image_pushes_total', { protocol: 'v2', status: '400', media_type: 'other' }), 1);
      assert.equal(d('quay_registry_image_pulled_estimated_bytes_total', { protocol: 'v2' }), img.layer.size + 10);
      assert.equal(d('quay_registry_image_pushed_bytes_total'), img.layer.size + img.config.size + img2.layer.size + img2.config.size);
      assert.equal(d('quay_request_duration_seconds_count', { method: 'GET', route: MANIFEST, status: '200' }), 4);
      assert.equal(d('quay_request_duration_seconds_count', { method: 'HEAD', route: MANIFEST, status: '200' }), 1);
      assert.equal(d('quay_request_duration_seconds_count', { method: 'GET', route: BLOB, status: '206' }), 1);
      assert.equal(d('quay_request_duration_seconds_count', { method: 'POST', route: '/v2/:name/blobs/uploads/', status: '201' }), 4);
      // An unknown API path is answered by the web UI's catch-all route (pattern '/*'), never labelled with the raw path.
      assert.equal(d('quay_request_duration_seconds_count', { method: 'GET', route: '/*', status: '404' }), 1);
      assert.equal(d('berth_blob_uploads_completed_total', { method: 'monolithic' }), 4);
      assert.equal(d('berth_blob_upload_duration_seconds_count', { method: 'monolithic' }), 4);
      // The histogram is cumulative and its +Inf bucket is its count.
      const buckets = after.filter(
        (x) =>
          x.name === 'quay_request_duration_seconds_bucket' &&
          x.labels.route === MANIFEST &&
          x.labels.method === 'GET' &&
          x.labels.status === '200',
      );
      assert.ok(buckets.length >= 10);
      for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value);
      assert.equal(buckets.at(-1)!.labels.le, '+Inf');
      assert.equal(
        buckets.at(-1)!.value,
        v(after, 'quay_request_duration_seconds_count', { method: 'GET', route: MANIFEST, status: '200' }),
      );
      // Bounded label values: no repository name, tag or digest anywhere.
      for (const x of after) {
        for (const [k, val] of Object.entries(x.labels)) {
          assert.doesNotMatch(val, /metrics\/|sha256:|no\/such/, `${x.name}{${k}="${val}"}`);
          if (k === 'route')
            assert.ok(
              val === 'unmatched' || val === '/*' || val === '/metrics' || val.startsWith('/v2') || val.startsWith('/api/v1/'),
              val,
            );
        }
      }
    });

    test('chunked uploads report start, completion and duration', async () => {
      const before = await scrape(s.url);
      const data = Buffer.from('chunked upload for metrics '.repeat(50));
      const start = await fetch(`${s.url}/v2/metrics/chunked/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      const loc = new URL(start.headers.get('location')!, s.url);
      const patch = await fetch(loc, { method: 'PATCH', body: data, headers: { 'content-type': 'application/octet-stream' } });
      assert.equal(patch.status, 202);
      const done = new URL(patch.headers.get('location')!, s.url);
      done.searchParams.set('digest', sha256(data));
      assert.equal((await fetch(done, { method: 'PUT' })).status, 201);
      const after = await scrape(s.url);
      const d = (name: string, labels: Record<string, string> = {}) =>
        (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
      assert.equal(d('berth_blob_uploads_started_total'), 1);
      assert.equal(d('berth_blob_uploads_completed_total', { method: 'chunked' }), 1);
      assert.equal(d('berth_blob_upload_duration_seconds_count', { method: 'chunked' }), 1);
      assert.equal(d('quay_registry_image_pushed_bytes_total'), data.length);
      assert.equal(d('quay_request_duration_seconds_count', { method: 'PATCH', route: '/v2/:name/blobs/uploads/:uuid', status: '202' }), 1);
    });

    test('row counts and storage used are cached between refreshes, not counted per scrape', async () => {
      s.berth.metrics!.invalidateCaches();
      const a = await scrape(s.url);
      const repos = sampleValue(a, 'quay_repository_rows')!;
      const used = sampleValue(a, 'berth_storage_used_bytes')!;
      const exact = await s.berth.ctx.db
        .selectFrom('repository')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      assert.equal(repos, Number(exact.n));
      assert.ok(repos >= 3);
      assert.equal(sampleValue(a, 'quay_registry_total_used_bytes'), used);
      const blob = await pushBlob(s.url, 'metrics/new-repo', 'a blob in a new repository');
      // Within the interval (an hour here) the cached values stand.
      const b = await scrape(s.url);
      assert.equal(sampleValue(b, 'quay_repository_rows'), repos);
      assert.equal(sampleValue(b, 'berth_storage_used_bytes'), used);
      s.berth.metrics!.invalidateCaches();
      const c = await scrape(s.url);
      assert.equal(sampleValue(c, 'quay_repository_rows'), repos + 1);
      assert.equal(sampleValue(c, 'berth_storage_used_bytes'), used + blob.size);
      // Filesystem figures are live and sane.
      const cap = sampleValue(c, 'berth_storage_capacity_bytes')!;
      const avail = sampleValue(c, 'berth_storage_available_bytes')!;
      assert.ok(cap > 0 && avail >= 0 && avail <= cap);
      assert.equal(sampleValue(c, 'quay_user_rows'), 0);
      assert.equal(sampleValue(c, 'quay_org_rows'), 0);
    });

    test('gc passes count iterations, deleted blobs and rows, bytes freed; dry runs do not', async () => {
      const img = await pushImage(s.url, 'metrics/gc', 'gone', 'gc-metrics');
      assert.equal((await fetch(`${s.url}/v2/metrics/gc/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
      const before = await scrape(s.url);
      await collectGarbage(s.berth.ctx, { graceSeconds: 0, dryRun: true });
      const report = await collectGarbage(s.berth.ctx, { graceSeconds: 0 });
      assert.ok(report.blobsRemoved >= 2);
      const after = await scrape(s.url);
      const d = (name: string, labels: Record<string, string> = {}) =>
        (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
      assert.equal(d('quay_gc_iterations_total'), 1);
      assert.equal(d('quay_gc_storage_blobs_deleted_total'), report.blobsRemoved + report.strayFilesRemoved);
      assert.equal(d('quay_gc_table_rows_deleted_total', { table: 'blob' }), report.blobsRemoved);
      assert.equal(d('berth_gc_bytes_freed_total'), report.bytesFreed);
      assert.equal(d('berth_gc_duration_seconds_count'), 1);
      assert.ok(sampleValue(after, 'berth_gc_last_run_timestamp_seconds')! > Date.now() / 1000 - 60);
    });

    test('auth attempts recorded through the service observer reach quay_authentication_attempts_total', async () => {
      const before = await scrape(s.url);
      s.berth.ctx.observer!.authAttempt!('basic', true);
      s.berth.ctx.observer!.authAttempt!('basic', false);
      s.berth.ctx.observer!.authAttempt!('basic', false);
      s.berth.metrics!.recordAuthAttempt('bearer', true);
      const after = await scrape(s.url);
      const d = (labels: Record<string, string>) =>
        (sampleValue(after, 'quay_authentication_attempts_total', labels) ?? 0) -
        (sampleValue(before, 'quay_authentication_attempts_total', labels) ?? 0);
      assert.equal(d({ auth_kind: 'basic', success: 'True' }), 1);
      assert.equal(d({ auth_kind: 'basic', success: 'False' }), 2);
      assert.equal(d({ auth_kind: 'bearer', success: 'True' }), 1);
    });

    test('users (enabled), organizations and robots are counted from the account table', async () => {
      const { db, dialect: d } = s.berth.ctx;
      const rows: [string, string, number][] = [
        ['m-alice', 'user', 1],
        ['m-bob', 'user', 1],
        ['m-gone', 'user', 0],
        ['m-org', 'org', 1],
        ['m-org+ci', 'robot', 1],
      ];
      const before = await accountRowCounts(db, d);
      for (const [name, kind, enabled] of rows) {
        await sql`insert into account (name, kind, enabled, created_at) values (${name}, ${kind}, ${enabled}, ${Date.now()})`.execute(db);
      }
      const counts = await accountRowCounts(db, d);
      assert.deepEqual(counts, { users: before.users + 2, orgs: before.orgs + 1, robots: before.robots + 1 });
      s.berth.metrics!.invalidateCaches();
      const x = await scrape(s.url);
      assert.equal(sampleValue(x, 'quay_user_rows'), counts.users);
      assert.equal(sampleValue(x, 'quay_org_rows'), counts.orgs);
      assert.equal(sampleValue(x, 'quay_robot_rows'), counts.robots);
    });

    test('PostgreSQL: a large table is counted from the planner estimate, not a full scan', {
      skip: dialect !== 'postgres' && 'PostgreSQL only (SQLite counts every table exactly)',
    }, async () => {
      const { db } = s.berth.ctx;
      await sql`create table metrics_big as select g as x from generate_series(1, ${EXACT_COUNT_LIMIT + 20_000}) g`.execute(db);
      await sql`analyze metrics_big`.execute(db);
      await sql`insert into metrics_big select g from generate_series(1, 10) g`.execute(db);
      const n = await tableRowCount(db, 'postgres', 'metrics_big');
      // The estimate (taken before the last 10 rows) stands in; an exact count would say +10.
      assert.ok(Math.abs(n - (EXACT_COUNT_LIMIT + 20_000)) < 2000, String(n));
      assert.notEqual(n, EXACT_COUNT_LIMIT + 20_010);
      // Small tables are counted exactly.
      assert.equal(
        await tableRowCount(db, 'postgres', 'tag'),
        Number((await sql<{ n: string }>`select count(*) as n from tag`.execute(db)).rows[0].n),
      );
    });
  });
}

test('a row-count provider runs at most once per interval, however often Prometheus scrapes', async () => {
  let calls = 0;
  const m = new Metrics({
    rowCounts: async () => {
      calls++;
      return { orgs: 1, repositories: 2, users: 3, robots: 4 };
    },
    rowCountIntervalSeconds: 3600,
    processMetrics: false,
  });
  try {
    const texts = await Promise.all(Array.from({ length: 5 }, () => m.render()));
    for (let i = 0; i < 5; i++) await m.render();
    assert.equal(calls, 1);
    const x = parseExposition(texts[0].body);
    assert.deepEqual(
      ['quay_org_rows', 'quay_repository_rows', 'quay_user_rows', 'quay_robot_rows'].map((n) => sampleValue(x, n)),
      [1, 2, 3, 4],
    );
  } finally {
    m.close();
  }
});

test('a failing row-count refresh keeps the last value and counts the error', async () => {
  let fail = false;
  const m = new Metrics({
    rowCounts: async () => {
      if (fail) throw new Error('database away');
      return { orgs: 0, repositories: 7, users: 0, robots: 0 };
    },
    rowCountIntervalSeconds: 3600,
    processMetrics: false,
  });
  try {
    assert.equal(sampleValue(parseExposition((await m.render()).body), 'quay_repository_rows'), 7);
    fail = true;
    m.invalidateCaches();
    assert.equal(sampleValue(parseExposition((await m.render()).body), 'quay_repository_rows'), 7);
    // The error counter is read in the same scrape as the failing refresh runs: it shows on the next.
    const x = parseExposition((await m.render()).body);
    assert.equal(sampleValue(x, 'quay_repository_rows'), 7);
    assert.equal(sampleValue(x, 'berth_metrics_refresh_errors_total', { what: 'row_counts' }), 1);
  } finally {
    m.close();
  }
});

test('two servers in one process keep separate registries', async () => {
  const [a, b] = await Promise.all([startServer('sqlite'), startServer('sqlite')]);
  try {
    await pushImage(a.url, 'only/a', 'v1');
    const ma = await scrape(a.url);
    const mb = await scrape(b.url);
    assert.equal(sampleValue(ma, 'quay_registry_image_pushes_total', { media_type: OCI, status: '201' }), 1);
    assert.equal(sampleValue(mb, 'quay_registry_image_pushes_total', { media_type: OCI, status: '201' }), 0);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('METRICS_BASIC_AUTH guards /metrics; a separate METRICS_PORT listener serves it too', async () => {
  const s = await startServer('sqlite', { METRICS_BASIC_AUTH: 'prom:s3cret:with-colon', METRICS_PORT: '0' });
  try {
    const auth = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    const none = await fetch(`${s.url}/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Basic realm="berth metrics"/);
    assert.equal((await fetch(`${s.url}/metrics`, { headers: auth('prom', 'wrong') })).status, 401);
    assert.equal((await fetch(`${s.url}/metrics`, { headers: auth('other', 's3cret:with-colon') })).status, 401);
    assert.equal((await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer abc' } })).status, 401);
    await scrape(s.url, { headers: auth('prom', 's3cret:with-colon') });
    assert.ok(s.berth.metricsUrl);
    assert.notEqual(s.berth.metricsUrl, s.url);
    assert.equal((await fetch(`${s.berth.metricsUrl}/metrics`)).status, 401);
    const x = await scrape(s.berth.metricsUrl!, { headers: auth('prom', 's3cret:with-colon') });
    assert.ok(sampleValue(x, 'process_resident_memory_bytes')! > 0);
    assert.equal((await fetch(`${s.berth.metricsUrl}/v2/`)).status, 404, 'the metrics port serves nothing else');
  } finally {
    await s.stop();
  }
});

test('METRICS_ON_MAIN_PORT=false keeps /metrics off the registry port', async () => {
  const s = await startServer('sqlite', { METRICS_PORT: '0', METRICS_ON_MAIN_PORT: 'false' });
  try {
    assert.equal((await fetch(`${s.url}/metrics`)).status, 404);
    await pushImage(s.url, 'main/only', 'v1');
    const x = await scrape(s.berth.metricsUrl!);
    assert.equal(sampleValue(x, 'quay_registry_image_pushes_total', { media_type: OCI, status: '201' }), 1);
  } finally {
    await s.stop();
  }
});

test('METRICS_ENABLED=false: no /metrics, no hooks, the registry works as before', async () => {
  const s = await startServer('sqlite', { METRICS_ENABLED: 'false' });
  try {
    assert.equal(s.berth.metrics, undefined);
    assert.equal(s.berth.ctx.observer, undefined);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 404);
    const img = await pushImage(s.url, 'plain/app', 'v1');
    assert.equal((await fetch(`${s.url}/v2/plain/app/manifests/${img.digest}`)).status, 200);
  } finally {
    await s.stop();
  }
});

test('unknown methods are labelled OTHER, not by their name', async () => {
  const s = await startServer('sqlite');
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${s.url}/v2/`);
      const r = http.request({ host: u.hostname, port: u.port, path: '/v2/', method: 'PROPFIND' }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      r.on('error', reject);
      r.end();
    });
    assert.ok(status >= 400);
    const x = await scrape(s.url);
    const methods = new Set(x.filter((y) => y.name === 'quay_request_duration_seconds_count').map((y) => y.labels.method));
    assert.ok(!methods.has('PROPFIND'));
    assert.ok(methods.has('OTHER'), [...methods].join(','));
  } finally {
    await s.stop();
  }
});

test('logins on the token endpoint count as basic auth attempts, right and wrong', async () => {
  const admin: [string, string] = ['admin', 'admin-password-1'];
  const s = await startServer('sqlite', {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: admin[0], password: admin[1] } } });
  try {
    const before = await scrape(s.url);
    assert.equal((await registryToken(s, ['repository:admin/app:pull'], admin)).status, 200);
    assert.equal((await registryToken(s, ['repository:admin/app:pull'], [admin[0], 'not-it'])).status, 401);
    assert.equal((await registryToken(s, ['repository:admin/app:pull'], ['nobody', 'not-it'])).status, 401);
    // Anonymous: no credentials, no attempt.
    await registryToken(s, ['repository:admin/app:pull']);
    const after = await scrape(s.url);
    const d = (success: string) =>
      (sampleValue(after, 'quay_authentication_attempts_total', { auth_kind: 'basic', success }) ?? 0) -
      (sampleValue(before, 'quay_authentication_attempts_total', { auth_kind: 'basic', success }) ?? 0);
    assert.equal(d('True'), 1);
    assert.equal(d('False'), 2);
    s.berth.metrics!.invalidateCaches();
    assert.equal(sampleValue(await scrape(s.url), 'quay_user_rows'), 1, 'the bootstrap admin');
    // /v2/auth and /api/v1 routes are labelled by pattern too.
    const routes = new Set(after.filter((x) => x.name === 'quay_request_duration_seconds_count').map((x) => x.labels.route));
    assert.ok(routes.has('/v2/auth'), [...routes].join(' '));
  } finally {
    await s.stop();
  }
});

test('METRICS_NODE_COLLECTORS: only the named groups of Node.js process metrics are collected', async () => {
  const s = await startServer('sqlite', { METRICS_NODE_COLLECTORS: 'process, heap' });
  try {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'process_start_time_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    for (const name of [
      'nodejs_gc_duration_seconds',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_active_handles',
      'nodejs_version_info',
    ])
      assert.doesNotMatch(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    // The registry's own series do not depend on it.
    assert.match(text, /^# TYPE quay_request_duration_seconds histogram$/m);
  } finally {
    await s.stop();
  }
});

test('METRICS_NODE_COLLECTORS by default: every Node.js process metric prom-client collects by default', async () => {
  const m = new Metrics({});
  try {
    const text = (await m.render()).body;
    for (const name of [
      'process_cpu_seconds_total',
      'process_open_fds',
      'nodejs_heap_space_size_used_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_gc_duration_seconds',
      'nodejs_active_handles_total',
      'nodejs_version_info',
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
  } finally {
    m.close();
  }
});

test('metrics config: bad values are reported with their key; environment overrides', () => {
  assert.throws(
    () => loadConfig({ env: { METRICS_BASIC_AUTH: 'no-colon' } }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('METRICS_BASIC_AUTH')),
  );
  assert.throws(
    () => loadConfig({ env: { METRICS_ENABLED: 'perhaps' } }),
    (e: unknown) => e instanceof ConfigError && e.problems.includes('METRICS_ENABLED (environment): must be true or false'),
  );
  assert.throws(
    () => loadConfig({ env: { METRICS_PORT: '70000' } }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('METRICS_PORT')),
  );
  const c = loadConfig({ env: { METRICS_ENABLED: 'no', METRICS_PORT: '9091', METRICS_ROW_COUNT_INTERVAL_SECONDS: '5' } });
  assert.equal(c.raw.METRICS_ENABLED, false);
  assert.equal(c.raw.METRICS_PORT, 9091);
  assert.equal(c.raw.METRICS_ROW_COUNT_INTERVAL_SECONDS, 5);
  const d = loadConfig({ env: {} });
  assert.equal(d.raw.METRICS_ENABLED, true);
  assert.equal(d.raw.METRICS_ON_MAIN_PORT, true);
  assert.equal(d.raw.METRICS_ROW_COUNT_INTERVAL_SECONDS, 60);
  assert.deepEqual(d.raw.METRICS_NODE_COLLECTORS, ['process', 'heap', 'eventloop', 'gc', 'handles', 'version']);
  assert.deepEqual(loadConfig({ env: { METRICS_NODE_COLLECTORS: '' } }).raw.METRICS_NODE_COLLECTORS, []);
  assert.deepEqual(loadConfig({ env: { METRICS_NODE_COLLECTORS: 'gc,eventloop' } }).raw.METRICS_NODE_COLLECTORS, ['gc', 'eventloop']);
  assert.throws(
    () => loadConfig({ env: { METRICS_NODE_COLLECTORS: 'gc,bogus' } }),
    (e: unknown) => e instanceof ConfigError && e.problems.some((p) => p.startsWith('METRICS_NODE_COLLECTORS')),
  );
});
