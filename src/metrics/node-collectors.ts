// The Node.js process metrics (prom-client's default metrics: process_*, nodejs_*), in groups a deployment can
// switch off one by one (METRICS_NODE_COLLECTORS). Most are read only when /metrics is scraped; two run all the
// time: "gc" (a PerformanceObserver, one entry per garbage collection) and "eventloop" (libuv's event-loop
// delay histogram, a timer every 10 ms). docs/PERFORMANCE.md ("Metrics and audit, fourth round") has their cost.
import type { Registry } from 'prom-client';
// Imported by name (not required by path at run time) so that the server's bundle (scripts/build-server.mjs) holds
// them with the same prom-client classes as the registry; the types are in ./prom-client-collectors.d.ts.
import eventLoopLag from 'prom-client/lib/metrics/eventLoopLag.js';
import gc from 'prom-client/lib/metrics/gc.js';
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
const COLLECTORS: Record<string, Collector> = {
  eventLoopLag,
  gc,
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

/** Registers the collectors of `groups` (default: all, as prom-client's collectDefaultMetrics does). */
export function registerNodeCollectors(registry: Registry, groups: readonly NodeCollectorGroup[] = NODE_COLLECTOR_NAMES): void {
  // The same settings collectDefaultMetrics passes (its event-loop precision default: 10 ms).
  const config = { register: registry, eventLoopMonitoringPrecision: 10 };
  for (const group of new Set(groups)) {
    for (const name of NODE_COLLECTOR_GROUPS[group]) {
      // processResources needs process.getActiveResourcesInfo (Node 17+); collectDefaultMetrics skips it likewise.
      if (name === 'processResources' && typeof process.getActiveResourcesInfo !== 'function') continue;
      const collector = COLLECTORS[name];
      if (!collector) throw new Error(`no prom-client collector ${name}`);
      collector(registry, config);
    }
  }
}
