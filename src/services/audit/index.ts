// The audit log and repository notifications of one server, built once by the composition root.
import type { ServiceContext } from '../context.js';
import { AuditLog } from './log.js';
import { AuditQueries } from './query.js';
import { NotificationService } from '../notifications/service.js';

export interface AuditServices {
  log: AuditLog;
  queries: AuditQueries;
  notifications: NotificationService;
  /** Starts the retention job and this replica's notification delivery loop. */
  start(logger?: { warn(obj: object, msg: string): void }): void;
  /** Stops the loops and writes the buffered entries (before the database closes). */
  close(): Promise<void>;
}

/** `log`: where the retention job and the delivery loop report problems (the server's logger). */
export function buildAudit(ctx: ServiceContext, opts: { log?: { warn(obj: object, msg: string): void } } = {}): AuditServices {
  const raw = ctx.config.raw;
  const log = new AuditLog(ctx.db, {
    dialect: ctx.dialect,
    enabled: raw.AUDIT_LOG_ENABLED,
    flushMs: raw.AUDIT_LOG_FLUSH_MS,
    batchSize: raw.AUDIT_LOG_BATCH_SIZE,
    retentionDays: raw.LOGS_RETENTION_DAYS,
    now: ctx.now,
  });
  const notifications = new NotificationService({ db: ctx.db, config: ctx.config, now: ctx.now, cache: ctx.cache });
  if (opts.log) {
    log.opts.log = opts.log;
    notifications.log = opts.log;
  }
  return {
    log,
    queries: new AuditQueries(ctx.db, log),
    notifications,
    start(logger) {
      if (logger) {
        log.opts.log = logger;
        notifications.log = logger;
      }
      log.start();
      notifications.start();
    },
    async close() {
      await notifications.stop();
      await log.close();
    },
  };
}
