// Config keys of the Prometheus endpoint (see docs/MONITORING.md).
import { z } from 'zod';

const basicAuth = z.union([
  z.string().regex(/^[^:\s]+:.+$/, 'must be USER:PASSWORD'),
  z.object({
    username: z
      .string()
      .min(1)
      .regex(/^[^:]+$/, 'must not contain ":"'),
    password: z.string().min(1),
  }),
]);

export const metricsConfigSchema = {
  /** Berth: serve GET /metrics (Prometheus text format) and record request metrics. */
  METRICS_ENABLED: z.boolean().default(true),
  /** Berth: also serve /metrics on this port of the LISTEN host (0 = any free port); unset = main port only. */
  METRICS_PORT: z.number().int().min(0).max(65535).optional(),
  /** Berth: serve /metrics on the main port too (set false to expose it only on METRICS_PORT). */
  METRICS_ON_MAIN_PORT: z.boolean().default(true),
  /** Berth: require HTTP basic auth on /metrics: "user:password" or { username, password }. */
  METRICS_BASIC_AUTH: basicAuth.optional(),
  /** Berth: row counts (quay_*_rows) and storage used are recomputed at most this often. */
  METRICS_ROW_COUNT_INTERVAL_SECONDS: z.number().positive().max(86_400).default(60),
  /**
   * Berth: the groups of Node.js process metrics to collect (process, heap, eventloop, gc, handles, version); default
   * all. [] collects none. (The same names as src/metrics/node-collectors.ts; the config layer does not import it.)
   */
  METRICS_NODE_COLLECTORS: z
    .array(z.enum(['process', 'heap', 'eventloop', 'gc', 'handles', 'version']))
    .default(['process', 'heap', 'eventloop', 'gc', 'handles', 'version']),
};
