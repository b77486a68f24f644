// The metrics of a standalone scanner process (`berth scanner serve`): the scanner's own gauges, counters
// and histogram (src/metrics/scanner.ts) and the Node.js process metrics, without the registry's series.
import { Counter, Registry } from 'prom-client';
import { type NodeCollectorGroup, registerNodeCollectors } from './node-collectors.js';
import { registerScannerMetrics, type ScannerMetrics, type ScannerMetricsSource } from './scanner.js';

export class ScannerProcessMetrics {
  readonly registry = new Registry();
  readonly scanner: ScannerMetrics;

  constructor(source: ScannerMetricsSource, intervalSeconds: number, nodeCollectors?: readonly NodeCollectorGroup[]) {
    const refreshErrors = new Counter({
      name: 'berth_metrics_refresh_errors_total',
      help: 'failed refreshes of cached metric values',
      labelNames: ['what'],
      registers: [this.registry],
    });
    for (const what of ['scanner_jobs', 'scanner_vulnerabilities', 'scanner_data_age']) refreshErrors.labels(what).inc(0);
    this.scanner = registerScannerMetrics(this.registry, source, intervalSeconds * 1000, (what) => () => refreshErrors.inc({ what }));
    registerNodeCollectors(this.registry, nodeCollectors);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
