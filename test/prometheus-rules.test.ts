// The monitoring files under deploy/: promtool accepts the rules and their unit tests show every
// alert firing and not firing; the Kubernetes PrometheusRule holds the same rules; the ServiceMonitor
// points at the metrics port; the example Prometheus config is valid; the Grafana dashboard has the
// panels Quay operators know plus Berth's own. (Each query running against a real Prometheus: prometheus.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { run } from './helpers/exec.ts';
import { PROMTOOL_BIN } from './helpers/prometheus.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const MON = path.join(ROOT, 'deploy/monitoring');
const K8S = path.join(ROOT, 'deploy/kubernetes');
const skip = PROMTOOL_BIN ? false : 'promtool is not installed (apt-get install prometheus; .ci/run installs it): SKIPPED';
if (skip) console.log(`NOTE: ${skip}`);

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rulesDoc = parse(readFileSync(path.join(MON, 'prometheus-rules.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
const alerts = rulesDoc.groups.flatMap((g) => g.rules).filter((r) => r.alert);

test('promtool check rules accepts the alert rules', { skip }, async () => {
  const r = await run(PROMTOOL_BIN!, ['check', 'rules', 'prometheus-rules.yaml'], { cwd: MON });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`));
});

test('promtool test rules: every alert fires on its synthetic series and stays quiet on the near misses', { skip }, async () => {
  const r = await run(PROMTOOL_BIN!, ['test', 'rules', 'prometheus-rules.test.yaml'], { cwd: MON });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /SUCCESS/);
  // Each alert has a case where it fires and one where it does not.
  type Case = { alertname: string; exp_alerts: unknown[] };
  const tests = (parse(readFileSync(path.join(MON, 'prometheus-rules.test.yaml'), 'utf8')) as { tests: { alert_rule_test: Case[] }[] })
    .tests;
  const cases = tests.flatMap((t) => t.alert_rule_test);
  for (const a of alerts) {
    assert.ok(
      cases.some((c) => c.alertname === a.alert && c.exp_alerts.length > 0),
      `${a.alert}: no firing case`,
    );
    assert.ok(
      cases.some((c) => c.alertname === a.alert && c.exp_alerts.length === 0),
      `${a.alert}: no quiet case`,
    );
  }
});

test('the rules cover restarts (without Kubernetes), errors, p99 latency and full storage, with runbook text', () => {
  const byName = new Map(alerts.map((a) => [a.alert!, a]));
  assert.match(byName.get('BerthFrequentlyRestarting')?.expr ?? '', /changes\(process_start_time_seconds/);
  assert.match(byName.get('BerthHighErrorRate')?.expr ?? '', /status=~"5\.\."/);
  assert.match(byName.get('BerthHighLatencyP99')?.expr ?? '', /histogram_quantile\(0\.99/);
  assert.match(byName.get('BerthStorageNearlyFull')?.expr ?? '', /berth_storage_available_bytes.*berth_storage_capacity_bytes/);
  // Stale vulnerability data follows SCANNER_DATA_MAX_AGE_SECONDS (berth_scanner_data_stale), not a number written into the rule.
  assert.match(byName.get('BerthScannerDataStale')?.expr ?? '', /berth_scanner_data_stale\{[^}]*\}\) == 1/);
  assert.match(byName.get('BerthScannerNoData')?.expr ?? '', /berth_scanner_data_updaters\{[^}]*\}\) == 0/);
  assert.doesNotMatch(byName.get('BerthScannerDataStale')?.expr ?? '', /604800/);
  const doc = readFileSync(path.join(ROOT, 'docs/MONITORING.md'), 'utf8');
  for (const a of alerts) {
    assert.ok(a.labels?.severity, `${a.alert}: no severity`);
    assert.ok(a.annotations?.summary && a.annotations.description, `${a.alert}: no summary/description`);
    assert.match(doc, new RegExp(`^### ${a.alert}$`, 'm'), `docs/MONITORING.md does not explain ${a.alert}`);
  }
});

test('deploy/kubernetes/prometheusrule.yaml holds exactly the same rules', () => {
  const pr = parse(readFileSync(path.join(K8S, 'prometheusrule.yaml'), 'utf8')) as {
    apiVersion: string;
    kind: string;
    spec: { groups: unknown };
  };
  assert.equal(pr.apiVersion, 'monitoring.coreos.com/v1');
  assert.equal(pr.kind, 'PrometheusRule');
  assert.deepEqual(pr.spec.groups, rulesDoc.groups, 'out of date: run node deploy/kubernetes/render-prometheusrule.mjs');
});

test('the ServiceMonitor scrapes /metrics on the metrics Service port', () => {
  const docs = parseAllDocuments(readFileSync(path.join(K8S, 'servicemonitor.yaml'), 'utf8')).map((d) => d.toJS()) as Record<string, any>[];
  const svc = docs.find((d) => d.kind === 'Service')!;
  const sm = docs.find((d) => d.kind === 'ServiceMonitor')!;
  assert.ok(svc && sm);
  assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
  for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) assert.equal(svc.metadata.labels[k], v, `Service lacks label ${k}`);
  const ep = sm.spec.endpoints[0];
  assert.equal(ep.path, '/metrics');
  const port = svc.spec.ports.find((p: { name: string }) => p.name === ep.port);
  assert.ok(port, `Service has no port named ${ep.port}`);
  assert.equal(port.targetPort, 9091);
  assert.match(svc.metadata.name, /^berth/, 'the job label (Service name) must match job=~"berth.*"');
});

test('promtool check config accepts the example Prometheus configuration', { skip }, async () => {
  const r = await run(PROMTOOL_BIN!, ['check', 'config', 'prometheus.example.yml'], { cwd: MON });
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test("the Grafana dashboard has Quay's panels and Berth's additions, each with a query", () => {
  type Panel = {
    id: number;
    type: string;
    title: string;
    datasource?: { uid: string };
    gridPos: { x: number; y: number; w: number; h: number };
    targets?: { expr: string; refId: string }[];
  };
  const d = JSON.parse(readFileSync(path.join(MON, 'grafana-dashboard.json'), 'utf8')) as {
    uid: string;
    title: string;
    panels: Panel[];
    templating: { list: { name: string }[] };
  };
  assert.ok(d.uid && d.title);
  assert.deepEqual(
    d.templating.list.map((v) => v.name),
    ['datasource', 'job', 'instance'],
  );
  const ids = new Set<number>();
  const titles = new Set<string>();
  for (const p of d.panels) {
    assert.ok(!ids.has(p.id), `duplicate panel id ${p.id}`);
    ids.add(p.id);
    titles.add(p.title);
    assert.ok(p.gridPos.x + p.gridPos.w <= 24, `${p.title}: wider than the grid`);
    if (p.type === 'row') continue;
    assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: not on the datasource variable`);
    assert.ok(p.targets?.length, `${p.title}: no query`);
    for (const t of p.targets!) {
      assert.match(t.expr, /job=~"\$job"/, `${p.title}: ${t.expr} ignores the job variable`);
      assert.doesNotMatch(t.expr, /namespace=|service=|process_name/, `${p.title}: Quay-on-OpenShift-only labels`);
    }
  }
  const quay = [
    'Organizations',
    'Repositories',
    'Users',
    'Robot accounts',
    'CPU usage (percent)',
    'Max memory usage',
    'Image pulls',
    'Image pushes',
    'Authentication requests',
    'API request rate by route',
    'p95 latency by route',
    'p99 latency by route',
  ];
  const berth = [
    'Error rate by status',
    'Bytes pushed and pulled',
    'Storage used',
    'Storage used and free',
    'Scan queue',
    'Scans finished and failed',
    'Scan duration p95',
    'Vulnerabilities by severity',
    'Manifests by scan state',
    'Vulnerability data age',
    'Stale updaters',
  ];
  for (const t of [...quay, ...berth]) assert.ok(titles.has(t), `no panel "${t}"`);
  const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  for (const m of [
    'quay_org_rows',
    'quay_repository_rows',
    'quay_user_rows',
    'quay_robot_rows',
    'quay_registry_image_pulls_total',
    'quay_registry_image_pushes_total',
    'quay_authentication_attempts_total',
    'quay_request_duration_seconds_count',
    'quay_request_duration_seconds_bucket',
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'quay_registry_image_pushed_bytes_total',
    'quay_registry_image_pulled_estimated_bytes_total',
    'berth_storage_used_bytes',
    'berth_scanner_queue_depth',
    'berth_scanner_scans_running',
    'berth_scanner_scans_completed_total',
    'berth_scanner_scans_failed_total',
    'quay_secscan_index_duration_seconds_bucket',
    'berth_scanner_vulnerabilities',
    'berth_scanner_manifests',
    'berth_scanner_data_age_seconds',
    'berth_scanner_data_stale',
  ]) {
    assert.ok(exprs.includes(m), `the dashboard never queries ${m}`);
  }
});
