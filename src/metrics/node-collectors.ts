// The Node.js process metrics (prom-client's default metrics: process_*, nodejs_*), in groups a deployment can
// switch off one by one (METRICS_NODE_COLLECTORS). Most are read only when /metrics is scraped; two run all the
// time: "gc" (a PerformanceObserver, one entry per garbage collection) and "eventloop" (libuv's event-loop
// delay histogram, a timer every 10 ms). docs/PERFORMANCE.md ("Metrics and audit, fourth round") has their cost.
// Those two are ours (same series as prom-client's): prom-client's gc collector records only the first GC of each
// observer callback, and neither of its two can be stopped; registerNodeCollectors returns the function that stops them.
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { Gauge, Histogram, type Registry } from 'prom-client';
// Imported by name (not required by path at run time) so that the server's bundle (scripts/build-server.mjs) holds
// them with the same prom-client classes as the registry; the types are in ./prom-client-collectors.d.ts.
import heapSizeAndUsed from 'prom-client/lib/metrics/heapSizeAndUsed.js';
import heapSpacesSizeAndUsed from 'prom-client/lib/metrics/heapSpacesSizeAndUsed.js';
import osMemoryHeap from 'prom-client/lib/metrics/osMemoryHeap.js';
import processCpuTotal from 'prom-client/lib/metrics/processCpuTotal.js';
import processHandles from 'prom-client/lib/metrics/processHandles.js';
import processMaxFileDescriptors from 'prom-client/lib/metrics/processMaxFileDescriptors.js';
import processOpenFileDescriptors from 'prom-client/lib/metrics/processOpenFileDescriptors.js';
import processRequests from 'prom-client/lib/metrics/processRequests.js';
import processResources from 'prom-client/lib/metrics/processResources.js';
import processStartTime from 'prom-client/lib/metrics/processStartTime.js';
import version from 'prom-client/lib/metrics/version.js';

type Collector = (registry: Registry, config: Record<string, unknown>) => void;
/** prom-client's collectors Berth uses as they are ("gc" and "eventloop" are Berth's own, below). */
const COLLECTORS: Record<string, Collector> = {
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  osMemoryHeap,
  processCpuTotal,
  processHandles,
  processMaxFileDescriptors,
  processOpenFileDescriptors,
  processRequests,
  processResources,
  processStartTime,
  version,
};

/** prom-client's collector modules (lib/metrics/*.js) of each group, and the series each group adds. */
export const NODE_COLLECTOR_GROUPS = {
  /** process_cpu_*, process_start_time_seconds, process_resident_memory_bytes (and the other process memory), fds. */
  process: ['processCpuTotal', 'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors'],
  /** nodejs_heap_size_*_bytes, nodejs_external_memory_bytes, nodejs_heap_space_size_*_bytes. */
  heap: ['heapSizeAndUsed', 'heapSpacesSizeAndUsed'],
  /** nodejs_eventloop_lag_seconds and nodejs_eventloop_lag_{min,max,mean,stddev,p50,p90,p99}_seconds. */
  eventloop: ['eventLoopLag'],
  /** nodejs_gc_duration_seconds{kind}. */
  gc: ['gc'],
  /** nodejs_active_{handles,requests,resources}{,_total}. */
  handles: ['processResources', 'processHandles', 'processRequests'],
  /** nodejs_version_info. */
  version: ['version'],
} as const;

export type NodeCollectorGroup = keyof typeof NODE_COLLECTOR_GROUPS;
export const NODE_COLLECTOR_NAMES = Object.keys(NODE_COLLECTOR_GROUPS) as NodeCollectorGroup[];

/** Registers the collectors of `groups` (default: all, as prom-client's collectDefaultMetrics does); returns stop(). */
export function registerNodeCollectors(registry: Registry, groups: readonly NodeCollectorGroup[] = NODE_COLLECTOR_NAMES): () => void {
  // The same settings collectDefaultMetrics passes (its event-loop precision default: 10 ms).
  const config = { register: registry, eventLoopMonitoringPrecision: 10 };
  const stops: (() => void)[] = [];
  for (const group of new Set(groups)) {
    if (group === 'gc') {
      stops.push(gcDurations(registry));
      continue;
    }
    if (group === 'eventloop') {
      stops.push(eventLoopLag(registry, config.eventLoopMonitoringPrecision));
      continue;
    }
    for (const name of NODE_COLLECTOR_GROUPS[group]) {
      // processResources needs process.getActiveResourcesInfo (Node 17+); collectDefaultMetrics skips it likewise.
      if (name === 'processResources' && typeof process.getActiveResourcesInfo !== 'function') continue;
      const collector = COLLECTORS[name];
      if (!collector) throw new Error(`no prom-client collector ${name}`);
      collector(registry, config);
    }
  }
  return () => {
    for (const stop of stops) stop();
  };
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** nodejs_gc_duration_seconds{kind}: every garbage collection (prom-client's series, buckets and help). */
function gcDurations(registry: Registry): () => void {
  const histogram = new Histogram({
    name: 'nodejs_gc_duration_seconds',
    help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
    labelNames: ['kind'],
    buckets: [0.001, 0.01, 0.1, 1, 2, 5],
    registers: [registry],
  });
  const children = new Map<number, { observe(v: number): void }>();
  const observer = new PerformanceObserver((list) => {
    // One callback can carry several GCs (all that finished in the same event-loop turn): each is recorded.
    for (const entry of list.getEntries()) {
      const code = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
      let child = children.get(code);
      if (!child) {
        const kind = GC_KINDS[code];
        if (kind === undefined) continue;
        child = histogram.labels(kind);
        children.set(code, child);
      }
      child.observe(entry.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

/** nodejs_eventloop_lag_seconds and the delay histogram's min…p99 since the last scrape (prom-client's series). */
function eventLoopLag(registry: Registry, resolutionMs: number): () => void {
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  // Registered first, as prom-client does (its collect fills the others), so the exposition keeps prom-client's order.
  const lag = new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    aggregator: 'average',
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      gauges.min.set(delay.min / 1e9);
      gauges.max.set(delay.max / 1e9);
      gauges.mean.set(delay.mean / 1e9);
      gauges.stddev.set(delay.stddev / 1e9);
      gauges.p50.set(delay.percentile(50) / 1e9);
      gauges.p90.set(delay.percentile(90) / 1e9);
      gauges.p99.set(delay.percentile(99) / 1e9);
      delay.reset();
    },
  });
  const gauge = (name: string, help: string, aggregator: 'min' | 'max' | 'average') =>
    new Gauge({ name, help, registers: [registry], aggregator });
  const gauges = {
    min: gauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.', 'min'),
    max: gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', 'max'),
    mean: gauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', 'average'),
    stddev: gauge('nodejs_eventloop_lag_stddev_seconds', 'The standard deviation of the recorded event loop delays.', 'average'),
    p50: gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', 'average'),
    p90: gauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.', 'average'),
    p99: gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', 'average'),
  };
  return () => delay.disable();
}
