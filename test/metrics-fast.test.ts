// The cheap recording and exposition of the per-request metrics (src/metrics/fast.ts, RouteRecorder) and the
// Node.js collectors Berth runs itself (src/metrics/node-collectors.ts): the text is prom-client's byte for byte,
// the series are prom-client's default ones, every GC is counted, and close() stops what runs without a scrape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Registry, collectDefaultMetrics, type Histogram } from 'prom-client';
import { Metrics } from '../src/metrics/registry.ts';
import { parseExposition } from './helpers/prometheus.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const promClientText = (registry: Registry, name: string): Promise<string> =>
  (Registry.prototype as unknown as { getMetricsAsString(m: unknown): Promise<string> }).getMetricsAsString.call(
    registry,
    registry.getSingleMetric(name),
  );

test('the per-request series are written exactly as prom-client writes them, odd label values included', async () => {
  const m = new Metrics({ processMetrics: false });
  try {
    m.observeRequest('GET', '/v2/:name/manifests/:reference', 200, 0.0004);
    m.observeRequest('GET', '/v2/:name/manifests/:reference', 200, 0.3);
    m.observeRequest('HEAD', '/v2/:name/blobs/:digest', 404, 7);
    m.observeRequest('PROPFIND', 'a "quoted" \\ back\nslash', 405, 1e9);
    m.recordPull('tag', 200);
    m.recordPull('manifest', 404);
    m.recordPush(201, 'application/vnd.oci.image.manifest.v1+json');
    m.recordPulledBytes(12345);
    for (const name of [
      'quay_request_duration_seconds',
      'quay_registry_image_pulls_total',
      'quay_registry_image_pushes_total',
      'quay_registry_image_pulled_estimated_bytes_total',
    ]) {
      const ours = await m.registry.getSingleMetricAsString(name);
      assert.equal(ours, await promClientText(m.registry, name), name);
    }
    const samples = parseExposition((await m.render()).body);
    const count = (labels: Record<string, string>) =>
      samples.find((s) => s.name === 'quay_request_duration_seconds_count' && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        ?.value;
    assert.equal(count({ method: 'GET', route: '/v2/:name/manifests/:reference', status: '200' }), 2);
    assert.equal(count({ method: 'OTHER', route: 'a "quoted" \\ back\nslash', status: '405' }), 1);
    const le = (v: string) =>
      samples.find((s) => s.name === 'quay_request_duration_seconds_bucket' && s.labels.method === 'GET' && s.labels.le === v)?.value;
    assert.equal(le('0.005'), 1);
    assert.equal(le('0.5'), 2);
    assert.equal(le('+Inf'), 2);
  } finally {
    m.close();
  }
});

test('the Node.js series are prom-client default metrics: same names, help and types', async () => {
  const m = new Metrics({});
  const reference = new Registry();
  collectDefaultMetrics({ register: reference });
  try {
    // Sorted by name: the groups (METRICS_NODE_COLLECTORS) come in another order than collectDefaultMetrics'.
    const headers = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith('# '))
        .sort((a, b) => a.split(' ')[2].localeCompare(b.split(' ')[2]) || a.localeCompare(b));
    const ours = headers((await m.render()).body).filter((l) => /^# (HELP|TYPE) (process_|nodejs_)/.test(l));
    assert.deepEqual(ours, headers(await reference.metrics()));
  } finally {
    m.close();
    reference.clear();
  }
});

test('nodejs_gc_duration_seconds counts every garbage collection, also several in one event-loop turn', async () => {
  const m = new Metrics({ nodeCollectors: ['gc'] });
  let seen = 0;
  const counter = new PerformanceObserver((list) => {
    seen += list.getEntries().length;
  });
  counter.observe({ entryTypes: ['gc'] });
  const total = async () =>
    (await (m.registry.getSingleMetric('nodejs_gc_duration_seconds') as Histogram).get()).values
      .filter((v) => v.metricName === 'nodejs_gc_duration_seconds_count')
      .reduce((a, v) => a + v.value, 0);
  try {
    const before = await total();
    const seenBefore = seen;
    for (let i = 0; i < 5; i++) gc(); // five GCs in one turn: their entries reach observers in one callback
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(seen - seenBefore >= 5, `an independent observer saw ${seen - seenBefore} GCs`);
    assert.equal((await total()) - before, seen - seenBefore);
  } finally {
    counter.disconnect();
    m.close();
  }
});

test('close() disconnects the GC observer: later collections are not recorded', async () => {
  const m = new Metrics({ nodeCollectors: ['gc', 'eventloop'] });
  const histogram = m.registry.getSingleMetric('nodejs_gc_duration_seconds') as Histogram;
  const count = async () =>
    (await histogram.get()).values.filter((v) => v.metricName === 'nodejs_gc_duration_seconds_count').reduce((a, v) => a + v.value, 0);
  gc();
  await new Promise((r) => setTimeout(r, 50));
  const recorded = await count();
  assert.ok(recorded >= 1, 'a GC while open is recorded');
  m.close();
  gc();
  gc();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(await count(), recorded);
});
