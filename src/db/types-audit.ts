// Tables of the audit log and repository notifications (migrations 0013, 0014; src/db/migrations-audit.ts).
import type { Generated } from 'kysely';

export interface AuditLogTable {
  id: Generated<number>;
  kind: string;
  namespace: string | null;
  repository: string | null;
  performer_kind: 'user' | 'robot' | 'anonymous';
  performer: string | null;
  ip: string | null;
  /** JSON object. */
  metadata: string;
  created_at: number;
}

export interface RepoNotificationTable {
  id: Generated<number>;
  uuid: string;
  repository_id: number;
  event: string;
  method: string;
  config: string;
  event_config: string;
  title: string | null;
  /** The HMAC key of the signature header, sealed with the database secret key. */
  secret: string;
  number_of_failures: Generated<number>;
  created_at: number;
}

export interface NotificationDeliveryTable {
  id: Generated<number>;
  notification_id: number;
  event: string;
  payload: string;
  dedup_key: string | null;
  attempts: Generated<number>;
  next_attempt_at: number;
  claimed_by: string | null;
  claimed_until: number | null;
  delivered_at: number | null;
  abandoned_at: number | null;
  last_error: string | null;
  created_at: number;
}

export interface AuditTables {
  audit_log: AuditLogTable;
  repo_notification: RepoNotificationTable;
  notification_delivery: NotificationDeliveryTable;
}
