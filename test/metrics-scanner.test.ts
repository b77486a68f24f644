// The scanner's metrics on /metrics (SQLite and PostgreSQL): a real image pushed over /v2 and scanned
// by the real scanner against data imported from a real bundle; the queue while the workers are
// stopped; a failing image's reason class; vulnerabilities by severity; each updater's data age and
// staleness against SCANNER_DATA_MAX_AGE_SECONDS (set through the environment).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { parseExposition, sampleValue, type Sample } from './helpers/prometheus.ts';
import { DEBIAN_FINDINGS, debianLayer, importDebianAdvisories, pushLayers } from './helpers/scan-image.ts';
import { Metrics } from '../src/metrics/registry.ts';

const SEVERITIES = ['Unknown', 'Negligible', 'Low', 'Medium', 'High', 'Critical'];
const STATES = ['queued', 'indexing', 'indexed', 'unsupported', 'failed'];

async function scrape(url: string): Promise<Sample[]> {
  const r = await fetch(`${url}/metrics`);
  assert.equal(r.status, 200);
  return parseExposition(await r.text());
}

for (const dialect of await testDialects()) {
  describe(`scanner metrics (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(dialect, { METRICS_ROW_COUNT_INTERVAL_SECONDS: '3600', SCANNER_DATA_MAX_AGE_SECONDS: '3600' });
    });
    after(() => s?.stop());

    const waitDone = async (digest: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const st = await s.berth.scanner!.service.status(digest);
        if (st.state !== 'queued' && st.state !== 'indexing' && st.state !== 'unknown') return st.state;
        assert.ok(Date.now() < deadline, `${digest} still ${st.state}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    test('every scanner series exists at zero before the first push; no data, no age series', async () => {
      const m = await scrape(s.url);
      assert.equal(sampleValue(m, 'berth_scanner_queue_depth'), 0);
      assert.equal(sampleValue(m, 'berth_scanner_scans_running'), 0);
      for (const st of STATES) assert.equal(sampleValue(m, 'berth_scanner_manifests', { state: st }), 0, st);
      for (const sev of SEVERITIES) assert.equal(sampleValue(m, 'berth_scanner_vulnerabilities', { severity: sev }), 0, sev);
      assert.equal(sampleValue(m, 'berth_scanner_scans_completed_total', { result: 'indexed' }), 0);
      assert.equal(sampleValue(m, 'berth_scanner_scans_failed_total', { reason: 'layer_format' }), 0);
      assert.equal(sampleValue(m, 'quay_secscan_index_duration_seconds_count', { status: 'indexed' }), 0);
      assert.equal(sampleValue(m, 'berth_scanner_data_max_age_seconds'), 3600, 'SCANNER_DATA_MAX_AGE_SECONDS from the environment');
      assert.equal(m.filter((x) => x.name === 'berth_scanner_data_age_seconds').length, 0);
      assert.equal(sampleValue(m, 'berth_scanner_data_updaters'), 0, 'no updater has data yet (BerthScannerNoData)');
    });

    test("data age per updater, measured from when the bundle's data was fetched; stale past the maximum age", async () => {
      const { db, dialect: d } = s.berth.ctx;
      await importDebianAdvisories(db, d, 7200);
      // Cached: the import shows after the refresh interval (forced here).
      assert.equal((await scrape(s.url)).filter((x) => x.name === 'berth_scanner_data_age_seconds').length, 0);
      s.berth.metrics!.invalidateCaches();
      const old = await scrape(s.url);
      const age = sampleValue(old, 'berth_scanner_data_age_seconds', { updater: 'metrics-debian' })!;
      assert.ok(age >= 7200 && age < 7260, `age ${age}`);
      assert.equal(sampleValue(old, 'berth_scanner_data_stale', { updater: 'metrics-debian' }), 1);
      assert.equal(sampleValue(old, 'berth_scanner_data_updaters'), 1);
      // A fresh bundle: young data, not stale.
      await importDebianAdvisories(db, d, 60);
      s.berth.metrics!.invalidateCaches();
      const fresh = await scrape(s.url);
      const age2 = sampleValue(fresh, 'berth_scanner_data_age_seconds', { updater: 'metrics-debian' })!;
      assert.ok(age2 >= 60 && age2 < 120, `age ${age2}`);
      assert.equal(sampleValue(fresh, 'berth_scanner_data_stale', { updater: 'metrics-debian' }), 0);
    });

    // The job's state is written before the worker counts the scan: scrape until the count shows the finished scan
    // (a scrape in between sees the state and not yet the count; Prometheus' next scrape sees both).
    const scrapeWhenCounted = async (status: string, count: number) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const m = await scrape(s.url);
        const n = sampleValue(m, 'quay_secscan_index_duration_seconds_count', { status });
        if (n === count || Date.now() > deadline) return m;
        await new Promise((r) => setTimeout(r, 25));
      }
    };

    test('a pushed image waits in the queue while the workers are stopped, then is scanned: counters, histogram, states, vulnerabilities', async () => {
      await s.berth.scanner!.stop();
      const digest = await pushLayers(s.url, 'scan/debian', 'v1', [await debianLayer()]);
      const queued = await scrape(s.url);
      assert.equal(sampleValue(queued, 'berth_scanner_queue_depth'), 1);
      assert.equal(sampleValue(queued, 'berth_scanner_manifests', { state: 'queued' }), 1);
      s.berth.scanner!.start();
      assert.equal(await waitDone(digest), 'indexed');
      const m = await scrapeWhenCounted('indexed', 1);
      assert.equal(sampleValue(m, 'berth_scanner_queue_depth'), 0);
      assert.equal(sampleValue(m, 'berth_scanner_scans_running'), 0);
      assert.equal(sampleValue(m, 'berth_scanner_manifests', { state: 'indexed' }), 1);
      assert.equal(sampleValue(m, 'berth_scanner_scans_completed_total', { result: 'indexed' }), 1);
      assert.equal(sampleValue(m, 'quay_secscan_index_duration_seconds_count', { status: 'indexed' }), 1);
      const sum = sampleValue(m, 'quay_secscan_index_duration_seconds_sum', { status: 'indexed' })!;
      assert.ok(sum > 0 && sum < 60, `duration ${sum}`);
      // Vulnerability counts are cached for the interval (an hour here): still zero, then the findings.
      assert.equal(sampleValue(m, 'berth_scanner_vulnerabilities', { severity: 'High' }), 0);
      s.berth.metrics!.invalidateCaches();
      const v = await scrape(s.url);
      for (const sev of SEVERITIES)
        assert.equal(sampleValue(v, 'berth_scanner_vulnerabilities', { severity: sev }), DEBIAN_FINDINGS[sev as 'High'] ?? 0, sev);
      // What the security endpoint shows for the image agrees.
      const sec = (await (
        await fetch(`${s.url}/api/v1/repository/scan/debian/manifest/${digest}/security?vulnerabilities=true`)
      ).json()) as { status: string; data: { Layer: { Features: Array<{ Vulnerabilities: Array<{ Severity: string }> }> } } };
      assert.equal(sec.status, 'scanned');
      const bySev: Record<string, number> = {};
      for (const f of sec.data.Layer.Features) for (const x of f.Vulnerabilities) bySev[x.Severity] = (bySev[x.Severity] ?? 0) + 1;
      assert.deepEqual(bySev, DEBIAN_FINDINGS);
    });

    test('a layer that is not a tar fails the scan: counted under its reason class, never its message', async () => {
      const digest = await pushLayers(s.url, 'scan/broken', 'v1', [gzipSync(Buffer.from('not a tar archive '.repeat(50)))]);
      assert.equal(await waitDone(digest), 'failed');
      const m = await scrapeWhenCounted('failed', 1);
      assert.equal(sampleValue(m, 'berth_scanner_scans_failed_total', { reason: 'layer_format' }), 1);
      assert.equal(sampleValue(m, 'berth_scanner_scans_failed_total', { reason: 'other' }), 0);
      assert.equal(sampleValue(m, 'quay_secscan_index_duration_seconds_count', { status: 'failed' }), 1);
      assert.equal(sampleValue(m, 'berth_scanner_manifests', { state: 'failed' }), 1);
      assert.equal(sampleValue(m, 'berth_scanner_scans_completed_total', { result: 'indexed' }), 1);
      const reasons = m.filter((x) => x.name === 'berth_scanner_scans_failed_total').map((x) => x.labels.reason);
      assert.deepEqual(reasons.sort(), ['database', 'external_scanner', 'layer_fetch', 'layer_format', 'missing_content', 'other']);
    });
  });
}

test('scanner counts are read once per interval however often Prometheus scrapes; a scan event re-reads only the queue; a failed read keeps the last values', async () => {
  const calls = { jobs: 0, vulns: 0, ages: 0 };
  let fail = false;
  const dataTime = Date.now() - 100_000;
  const m = new Metrics({
    processMetrics: false,
    rowCountIntervalSeconds: 3600,
    scanner: {
      jobCounts: async () => {
        calls.jobs++;
        if (fail) throw new Error('database away');
        return { queued: 3, indexing: 1, indexed: 7, unsupported: 0, failed: 2 };
      },
      vulnerabilityCounts: async () => {
        calls.vulns++;
        return { Unknown: 0, Negligible: 0, Low: 4, Medium: 0, High: 2, Critical: 1 };
      },
      updaterDataTimes: async () => {
        calls.ages++;
        return [{ name: 'u1', dataTime }];
      },
      maxAgeSeconds: 50,
    },
  });
  try {
    await Promise.all(Array.from({ length: 5 }, () => m.render()));
    for (let i = 0; i < 5; i++) await m.render();
    assert.deepEqual(calls, { jobs: 1, vulns: 1, ages: 1 });
    const x = parseExposition((await m.render()).body);
    assert.equal(sampleValue(x, 'berth_scanner_queue_depth'), 3);
    assert.equal(sampleValue(x, 'berth_scanner_manifests', { state: 'failed' }), 2);
    assert.equal(sampleValue(x, 'berth_scanner_vulnerabilities', { severity: 'Critical' }), 1);
    assert.ok(sampleValue(x, 'berth_scanner_data_age_seconds', { updater: 'u1' })! >= 100);
    assert.equal(sampleValue(x, 'berth_scanner_data_stale', { updater: 'u1' }), 1);
    // A scan queued by this process: the next scrape re-reads the queue, nothing else.
    m.scanner!.observer.onScanQueued!();
    await m.render();
    assert.deepEqual(calls, { jobs: 2, vulns: 1, ages: 1 });
    fail = true;
    m.scanner!.observer.onScanFinished!(1500, 'failed', new Error('fetching layer http://x: HTTP 500'));
    const y = parseExposition((await m.render()).body);
    assert.equal(sampleValue(y, 'berth_scanner_queue_depth'), 3, 'the last good value stays');
    assert.equal(sampleValue(y, 'berth_scanner_scans_failed_total', { reason: 'layer_fetch' }), 1);
    assert.equal(sampleValue(y, 'quay_secscan_index_duration_seconds_sum', { status: 'failed' }), 1.5);
    const z = parseExposition((await m.render()).body);
    assert.equal(sampleValue(z, 'berth_metrics_refresh_errors_total', { what: 'scanner_jobs' }), 1);
  } finally {
    m.close();
  }
});
