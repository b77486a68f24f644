// The Prometheus metrics of one Berth server: Quay's names (quay_*) where Quay has the metric, so
// Quay's dashboards and alerts work, and berth_* for the rest. One registry per server (never the
// global one), so several servers in one process (tests) do not collide.
import { statfs } from 'node:fs/promises';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { AuthKind, ServiceObserver } from '../services/context.js';
import { MANIFEST_MEDIA_TYPES } from '../oci/mediatypes.js';
import { CachedValue } from './cache.js';
import { type CounterChild, FastCounter, FastHistogram, FastRegistry, type HistogramChild } from './fast.js';
import { type NodeCollectorGroup, registerNodeCollectors } from './node-collectors.js';
import type { RowCountProvider, RowCounts } from './row-counts.js';
import { registerScannerMetrics, type ScannerMetrics, type ScannerMetricsSource } from './scanner.js';

export type { RowCounts, RowCountProvider } from './row-counts.js';
export type { ScannerMetricsSource } from './scanner.js';

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export interface MetricsOptions {
  /** quay_{org,repository,user,robot}_rows; cached for rowCountIntervalSeconds. */
  rowCounts?: RowCountProvider;
  /** Bytes of stored blobs (berth_storage_used_bytes); cached like the row counts. */
  storageUsedBytes?: () => Promise<number>;
  /** Directory whose filesystem holds the blobs (capacity and free space, read on every scrape). */
  storagePath?: string;
  /** Database pool (quay_db_pooled_connections_*). */
  poolStats?: () => PoolStats;
  rowCountIntervalSeconds?: number;
  /** Node.js process metrics (CPU, memory, event loop, heap, gc). Default true. */
  processMetrics?: boolean;
  /** Which groups of them (METRICS_NODE_COLLECTORS); default all. */
  nodeCollectors?: readonly NodeCollectorGroup[];
  /** FIPS mode (berth_fips_mode, berth_fips_provider_active): FEATURE_FIPS and crypto.getFips(). */
  fips?: () => { on: boolean; active: boolean };
  /** The vulnerability scanner (berth_scanner_*, quay_secscan_*); counts cached like the row counts. */
  scanner?: ScannerMetricsSource;
}

/** The labels Quay uses for auth attempts: kinds, and Python's str(bool) for success. */
export const AUTH_KINDS: readonly AuthKind[] = ['basic', 'bearer', 'cookie', 'oauth'];
const SUCCESS = (ok: boolean) => (ok ? 'True' : 'False');

/** Request duration buckets: Prometheus' defaults (as Quay's) plus the long tail of blob transfers. */
export const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120, 300];
const UPLOAD_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const GC_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

type Inc = { inc(v?: number): void };

/** The method label values; `methodIndex` maps a request's method to its position (anything else is "OTHER"). */
export const REQUEST_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
export function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'PUT':
      return 2;
    case 'POST':
      return 3;
    case 'PATCH':
      return 4;
    case 'DELETE':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}

/**
 * The request-duration recorders of one route pattern, by method index and status code: one array read per
 * request once a (method, status) was seen, no string built or hashed (quay_request_duration_seconds).
 */
export class RouteRecorder {
  private readonly byMethod: (HistogramChild | undefined)[][] = REQUEST_METHODS.map(() => []);
  constructor(
    private readonly histogram: FastHistogram,
    readonly route: string,
  ) {}

  observe(method: number, status: number, seconds: number): void {
    const row = this.byMethod[method];
    let child = row[status];
    if (child === undefined) {
      child = this.histogram.labels(REQUEST_METHODS[method], this.route, String(status));
      // Status codes are 100–599 (Fastify checks reply.code); anything else is looked up by label each time.
      if (Number.isInteger(status) && status >= 0 && status < 1000) row[status] = child;
    }
    child.observe(seconds);
  }
}

export class Metrics {
  readonly registry = new FastRegistry();
  // The per-request metrics use the fast recorders (see fast.ts); the rest are prom-client's own.
  readonly requestDuration: FastHistogram;
  readonly imagePulls: FastCounter;
  readonly imagePushes: FastCounter;
  readonly pulledBytes: FastCounter;
  readonly pushedBytes: Counter;
  readonly authAttempts: Counter<'auth_kind' | 'success'>;
  readonly uploadDuration: Histogram<'method'>;
  readonly uploadsStarted: Counter;
  readonly uploadsCompleted: Counter<'method'>;
  readonly gcIterations: Counter;
  readonly gcBlobsDeleted: Counter;
  readonly gcRowsDeleted: Counter<'table'>;
  readonly gcBytesFreed: Counter;
  readonly gcFailures: Counter;
  readonly gcDuration: Histogram;
  readonly gcLastRun: Gauge;
  readonly refreshErrors: Counter<'what'>;
  /** What the composition root puts in ServiceContext.observer. */
  readonly observer: ServiceObserver;
  /** The scanner's metrics; its observer goes into ScannerService.observer. */
  readonly scanner?: ScannerMetrics;

  private readonly routes = new Map<string, RouteRecorder>();
  /** Pull counters by ref (0 tag, 1 manifest) and status. */
  private readonly pullChildren: (CounterChild | undefined)[][] = [[], []];
  private readonly pushChildren = new Map<string, Inc>();
  private readonly pulledBytesV2: Inc;
  private readonly rowCounts?: CachedValue<RowCounts>;
  private readonly storageUsed?: CachedValue<number>;
  /** Disconnects the GC observer and stops the event-loop delay histogram. */
  private readonly stopNodeCollectors?: () => void;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    const intervalMs = (opts.rowCountIntervalSeconds ?? 60) * 1000;
    this.refreshErrors = new Counter({
      name: 'berth_metrics_refresh_errors_total',
      help: 'failed refreshes of cached metric values (row counts, storage used)',
      labelNames: ['what'],
      registers,
    });
    for (const what of [
      'row_counts',
      'storage_used',
      'statfs',
      ...(opts.scanner ? ['scanner_jobs', 'scanner_vulnerabilities', 'scanner_data_age'] : []),
    ]) {
      this.refreshErrors.labels(what).inc(0);
    }
    const onError = (what: string) => () => this.refreshErrors.inc({ what });

    // --- HTTP
    this.requestDuration = new FastHistogram(
      'quay_request_duration_seconds',
      'seconds taken to process a request',
      ['method', 'route', 'status'],
      REQUEST_BUCKETS,
      this.registry,
    );

    // --- registry traffic (Quay's endpoints/metrics.py)
    this.imagePulls = new FastCounter(
      'quay_registry_image_pulls_total',
      'number of images that have been downloaded via the registry',
      ['protocol', 'ref', 'status'],
      this.registry,
    );
    this.imagePushes = new FastCounter(
      'quay_registry_image_pushes_total',
      'number of images that have been uploaded via the registry',
      ['protocol', 'status', 'media_type'],
      this.registry,
    );
    this.pulledBytes = new FastCounter(
      'quay_registry_image_pulled_estimated_bytes_total',
      'number of bytes that have been downloaded via the registry',
      ['protocol'],
      this.registry,
    );
    this.pulledBytesV2 = this.pulledBytes.labels('v2');
    this.pushedBytes = new Counter({
      name: 'quay_registry_image_pushed_bytes_total',
      help: 'number of bytes pushed to the registry',
      registers,
    });
    this.authAttempts = new Counter({
      name: 'quay_authentication_attempts_total',
      help: 'number of authentication attempts across the registry and API',
      labelNames: ['auth_kind', 'success'],
      registers,
    });
    // Every label set exists from the start (at 0), so rate() and dashboards have a series before the first login.
    for (const k of AUTH_KINDS) for (const ok of [true, false]) this.authAttempts.labels(k, SUCCESS(ok)).inc(0);
    for (const ref of ['tag', 'manifest']) this.imagePulls.labels('v2', ref, '200').inc(0);
    for (const mt of MANIFEST_MEDIA_TYPES) this.imagePushes.labels('v2', '201', mt).inc(0);

    // --- blob uploads
    this.uploadDuration = new Histogram({
      name: 'berth_blob_upload_duration_seconds',
      help: 'seconds from the start of a blob upload to its commit',
      labelNames: ['method'],
      buckets: UPLOAD_BUCKETS,
      registers,
    });
    this.uploadsStarted = new Counter({
      name: 'berth_blob_uploads_started_total',
      help: 'upload sessions started (POST without digest)',
      registers,
    });
    this.uploadsCompleted = new Counter({
      name: 'berth_blob_uploads_completed_total',
      help: 'blobs received and committed',
      labelNames: ['method'],
      registers,
    });
    for (const m of ['monolithic', 'chunked']) {
      this.uploadsCompleted.labels(m).inc(0);
      this.uploadDuration.zero({ method: m });
    }

    // --- garbage collection (Quay's names where Quay has one)
    this.gcIterations = new Counter({ name: 'quay_gc_iterations_total', help: 'number of iterations by the GCWorker', registers });
    this.gcBlobsDeleted = new Counter({ name: 'quay_gc_storage_blobs_deleted_total', help: 'number of storage blobs deleted', registers });
    this.gcRowsDeleted = new Counter({
      name: 'quay_gc_table_rows_deleted_total',
      help: 'number of table rows deleted by GC',
      labelNames: ['table'],
      registers,
    });
    for (const t of ['upload', 'manifest', 'repository_blob', 'blob']) this.gcRowsDeleted.labels(t).inc(0);
    this.gcBytesFreed = new Counter({ name: 'berth_gc_bytes_freed_total', help: 'bytes of storage freed by gc', registers });
    this.gcFailures = new Counter({ name: 'berth_gc_failures_total', help: 'gc passes that stopped on an error', registers });
    this.gcDuration = new Histogram({
      name: 'berth_gc_duration_seconds',
      help: 'seconds taken by one gc pass',
      buckets: GC_BUCKETS,
      registers,
    });
    this.gcLastRun = new Gauge({
      name: 'berth_gc_last_run_timestamp_seconds',
      help: 'when the last gc pass of this process finished (0: never)',
      registers,
    });

    // --- FIPS mode: whether it was asked for, and whether the process really runs on a FIPS provider
    if (opts.fips) {
      const fips = opts.fips;
      new Gauge({
        name: 'berth_fips_mode',
        help: '1 when FIPS mode is on (FEATURE_FIPS / serve --fips)',
        registers,
        collect() {
          this.set(fips().on ? 1 : 0);
        },
      });
      new Gauge({
        name: 'berth_fips_provider_active',
        help: '1 when crypto.getFips() is 1 (every algorithm comes from a FIPS provider)',
        registers,
        collect() {
          this.set(fips().active ? 1 : 0);
        },
      });
    }

    // --- database pool (Quay's names) and row counts
    if (opts.poolStats) {
      const pool = opts.poolStats;
      new Gauge({
        name: 'quay_db_pooled_connections_in_use',
        help: 'number of database connections in use',
        registers,
        collect() {
          const s = pool();
          this.set(s.total - s.idle);
        },
      });
      new Gauge({
        name: 'quay_db_pooled_connections_available',
        help: 'number of open database connections idle in the pool',
        registers,
        collect() {
          this.set(pool().idle);
        },
      });
      new Gauge({
        name: 'berth_db_pool_waiting_requests',
        help: 'queries waiting for a free database connection',
        registers,
        collect() {
          this.set(pool().waiting);
        },
      });
    }
    if (opts.rowCounts) {
      const cache = new CachedValue(opts.rowCounts, intervalMs, onError('row_counts'));
      this.rowCounts = cache;
      const rowGauge = (name: string, help: string, pick: (c: RowCounts) => number) =>
        new Gauge({
          name,
          help,
          registers,
          async collect() {
            const c = await cache.get();
            this.set(c ? pick(c) : 0);
          },
        });
      rowGauge('quay_repository_rows', 'number of repositories in the database', (c) => c.repositories);
      rowGauge('quay_user_rows', 'number of users in the database', (c) => c.users);
      rowGauge('quay_org_rows', 'number of organizations in the database', (c) => c.orgs);
      rowGauge('quay_robot_rows', 'number of robot accounts in the database', (c) => c.robots);
    }

    // --- storage
    if (opts.storageUsedBytes) {
      const cache = new CachedValue(opts.storageUsedBytes, intervalMs, onError('storage_used'));
      this.storageUsed = cache;
      for (const [name, help] of [
        ['berth_storage_used_bytes', 'bytes of all stored blobs (each digest once)'],
        ['quay_registry_total_used_bytes', 'Storage consumption in bytes for the entire registry'],
      ]) {
        new Gauge({
          name,
          help,
          registers,
          async collect() {
            this.set((await cache.get()) ?? 0);
          },
        });
      }
    }
    if (opts.storagePath) {
      const dir = opts.storagePath;
      let last: { capacity: number; available: number } | undefined;
      let pending: Promise<void> | undefined;
      // One statfs per scrape, shared by both gauges.
      const read = () =>
        (pending ??= statfs(dir)
          .then(
            (s) => {
              last = { capacity: s.blocks * s.bsize, available: s.bavail * s.bsize };
            },
            () => {
              this.refreshErrors.inc({ what: 'statfs' });
            },
          )
          .finally(() => {
            pending = undefined;
          }));
      new Gauge({
        name: 'berth_storage_capacity_bytes',
        help: 'size of the filesystem that holds the blobs',
        registers,
        async collect() {
          await read();
          if (last) this.set(last.capacity);
        },
      });
      new Gauge({
        name: 'berth_storage_available_bytes',
        help: 'bytes free for Berth on the filesystem that holds the blobs',
        registers,
        async collect() {
          await read();
          if (last) this.set(last.available);
        },
      });
    }

    if (opts.scanner) this.scanner = registerScannerMetrics(this.registry, opts.scanner, intervalMs, onError);

    if (opts.processMetrics !== false) this.stopNodeCollectors = registerNodeCollectors(this.registry, opts.nodeCollectors);

    this.observer = {
      blobUploadStarted: () => this.uploadsStarted.inc(),
      blobCommitted: (e) => {
        this.pushedBytes.inc(e.size);
        this.uploadsCompleted.inc({ method: e.method });
        this.uploadDuration.observe({ method: e.method }, e.seconds);
      },
      gcFinished: (e) => {
        if (e.dryRun) return;
        this.gcIterations.inc();
        if (e.failed) this.gcFailures.inc();
        this.gcBlobsDeleted.inc(e.blobsRemoved + e.strayFilesRemoved);
        this.gcRowsDeleted.inc({ table: 'upload' }, e.uploadsRemoved);
        this.gcRowsDeleted.inc({ table: 'manifest' }, e.manifestsRemoved);
        this.gcRowsDeleted.inc({ table: 'repository_blob' }, e.linksRemoved);
        this.gcRowsDeleted.inc({ table: 'blob' }, e.blobsRemoved);
        this.gcBytesFreed.inc(e.bytesFreed);
        this.gcDuration.observe(e.seconds);
        this.gcLastRun.set(Date.now() / 1000);
        this.storageUsed?.invalidate();
      },
      authAttempt: (kind, success) => this.recordAuthAttempt(kind, success),
    };
  }

  /** A credential check: wrong credentials count as failures; missing ones are not attempts. */
  recordAuthAttempt(kind: AuthKind, success: boolean): void {
    this.authAttempts.inc({ auth_kind: AUTH_KINDS.includes(kind) ? kind : 'basic', success: SUCCESS(success) });
  }

  /** The recorder of one route pattern (bounded: never a raw path); keep it, or look it up per request (one Map get). */
  route(pattern: string): RouteRecorder {
    let r = this.routes.get(pattern);
    if (!r) {
      r = new RouteRecorder(this.requestDuration, pattern);
      this.routes.set(pattern, r);
    }
    return r;
  }

  /** One finished HTTP request; `route` must be a route pattern (bounded), never a raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.route(route).observe(methodIndex(method), status, seconds);
  }

  /** A manifest GET (Quay counts pulls by manifest fetches): ref is "tag" or "manifest" (by digest). */
  recordPull(ref: 'tag' | 'manifest', status: number): void {
    const row = this.pullChildren[ref === 'tag' ? 0 : 1];
    let c = row[status];
    if (c === undefined) {
      c = this.imagePulls.labels('v2', ref, String(status));
      if (Number.isInteger(status) && status >= 0 && status < 1000) row[status] = c;
    }
    c.inc();
  }

  /** A manifest PUT; mediaType must come from a bounded set. */
  recordPush(status: number, mediaType: string): void {
    const key = `${status} ${mediaType}`;
    let c = this.pushChildren.get(key);
    if (!c) {
      c = this.imagePushes.labels('v2', String(status), mediaType);
      this.pushChildren.set(key, c);
    }
    c.inc();
  }

  recordPulledBytes(bytes: number): void {
    if (bytes > 0) this.pulledBytesV2.inc(bytes);
  }

  /** The exposition: Prometheus text format. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Forces the next scrape to recompute row counts and storage used. */
  invalidateCaches(): void {
    this.rowCounts?.invalidate();
    this.storageUsed?.invalidate();
    this.scanner?.invalidate();
  }

  /** Stops what runs without a scrape (GC observer, event-loop histogram) and empties the registry. */
  close(): void {
    this.stopNodeCollectors?.();
    this.registry.clear();
  }
}
