// Config keys of the audit log and repository notifications (docs/AUDIT.md).
import { z } from 'zod';

export const auditConfigSchema = {
  /** Days audit log entries are kept; older ones are pruned hourly and by `berth gc`. 0 keeps them forever. */
  LOGS_RETENTION_DAYS: z.number().int().min(0).max(36500).default(90),
  /** Berth: record the audit log at all (pulls, pushes and every change). */
  AUDIT_LOG_ENABLED: z.boolean().default(true),
  /** Berth: the in-process buffer is written at least this often (milliseconds). */
  AUDIT_LOG_FLUSH_MS: z.number().int().min(10).max(60_000).default(1000),
  /** Berth: ... or as soon as it holds this many entries. */
  AUDIT_LOG_BATCH_SIZE: z.number().int().min(1).max(2000).default(500),
  /** Berth: seconds before the first retry of a failed notification delivery; doubles with each attempt. */
  NOTIFICATION_RETRY_SECONDS: z.number().min(0.05).max(3600).default(10),
  /** Berth: how often each replica looks for due notification deliveries (seconds). */
  NOTIFICATION_POLL_SECONDS: z.number().min(0.05).max(3600).default(5),
};
