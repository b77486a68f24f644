import { z } from "zod";
const scannerConfigSchema = {
  /** Quay: scan pushed images. Berth: the scanner runs in-process unless SECURITY_SCANNER_V4_ENDPOINT is set. */
  FEATURE_SECURITY_SCANNER: z.boolean().default(true),
  /** Quay: an external Clair v4-compatible scanner (Clair, or `berth scanner serve`) instead of the in-process one. */
  SECURITY_SCANNER_V4_ENDPOINT: z.string().url().optional(),
  /** Quay: the base64 pre-shared key of HS256 JWTs between registry and scanner (Clair's `auth.psk.key`). */
  SECURITY_SCANNER_V4_PSK: z.string().min(1).optional(),
  /** Berth: the updaters run by `berth scanner update` and on schedule (default: those enabled by default). */
  SCANNER_UPDATERS: z.array(z.string().min(1)).optional(),
  /** Berth: per-updater base URL (a mirror with the upstream layout), keyed by updater name. */
  SCANNER_UPDATER_BASE_URLS: z.record(z.string(), z.string().url()).default({}),
  /** Berth: HTTP(S) proxy for updater downloads. */
  SCANNER_PROXY: z.string().url().optional(),
  /** Berth: run the updaters every this many seconds; 0 = never on its own (run `berth scanner update`). */
  SCANNER_UPDATE_INTERVAL_SECONDS: z.number().int().nonnegative().default(0),
  /** Berth: manifests indexed at the same time by this process. */
  SCANNER_WORKERS: z.number().int().min(0).max(64).default(1),
  /** Berth: attempts before a job is marked failed (with its reason). */
  SCANNER_MAX_ATTEMPTS: z.number().int().min(1).max(100).default(5),
  /** Berth: how long a claimed job is held before another worker may retry it. */
  SCANNER_LEASE_SECONDS: z.number().int().min(5).default(600),
  /** Berth: where notifications go: POSTed JSON signed with HMAC-SHA256 of the body (X-Berth-Signature: sha256=<hex>). */
  SCANNER_NOTIFICATION_WEBHOOK: z.object({ url: z.string().url(), secret: z.string().min(16) }).optional()
};
export {
  scannerConfigSchema
};
//# sourceMappingURL=schema-scanner.js.map
