// Notifications: when new vulnerability data changes what affects an indexed manifest.
//
// The scanner service re-matches every indexed manifest after an updater changed data and diffs
// each manifest's (vulnerability, package) set against the one stored at its last match
// (scan_vulnset). Entries that appeared ("added": newly affected) and entries that disappeared
// ("removed": the data now says fixed at the installed version, or the advisory was withdrawn)
// become one notification (one id per re-match run, Clair's shape: pages of
// { id, manifest, reason: "added" | "removed", vulnerability }), kept in scan_notification and served
// at /notifier/api/v1/notification/{id} until deleted. When a webhook is configured, its URL gets a
// POST of { notification_id, callback, ... } (JSON) with the header
//   X-Berth-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes under the secret>
// Deliveries that fail are retried (attempts and last error recorded) until they succeed or 10 tries.
import { hmacSha256, newId } from '../crypto/index.js';
import type { DB } from '../db/database.js';
import type { ClairNotification } from './clair.js';
import type { VulnChange, VulnKey } from './vulns.js';

export const SIGNATURE_HEADER = 'X-Berth-Signature';
const MAX_DELIVERY_ATTEMPTS = 10;

export interface NotifierOptions {
  db: DB;
  webhook?: { url: string; secret: string };
  /** The public base URL of the notifier pages (callback links). */
  baseUrl: string;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

interface StoredNotification {
  notifications: ClairNotification[];
}

export function signBody(secret: string, body: string): string {
  return `sha256=${hmacSha256(secret, body)}`;
}

export class Notifier {
  private readonly now: () => number;

  constructor(private readonly opts: NotifierOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Records one notification for what a re-match changed (added, then removed, per manifest) and delivers it. Returns its id. */
  async notify(changes: VulnChange[]): Promise<string> {
    const id = newId();
    const notifications: ClairNotification[] = [];
    const entry = (manifest: string, reason: ClairNotification['reason'], v: VulnKey): ClairNotification => ({
      id: `${id}-${notifications.length + 1}`,
      manifest,
      reason,
      vulnerability: {
        name: v.id,
        fixed_in_version: v.fixedIn ?? '',
        links: v.links.join(' '),
        description: v.description,
        normalized_severity: v.severity,
        package: { name: v.package, version: v.version, kind: 'binary' },
      },
    });
    for (const c of changes) {
      for (const v of c.added) notifications.push(entry(c.manifest, 'added', v));
      for (const v of c.removed) notifications.push(entry(c.manifest, 'removed', v));
    }
    const body: StoredNotification = { notifications };
    await this.opts.db
      .insertInto('scan_notification')
      .values({ id, created_at: this.now(), body: JSON.stringify(body), delivered_at: null, attempts: 0, last_error: null })
      .execute();
    if (this.opts.webhook) await this.deliver(id).catch(() => {});
    return id;
  }

  /** One page of a notification (Clair's PagedNotifications); undefined when the id is unknown. */
  async page(
    id: string,
    pageSize = 100,
    next?: string,
  ): Promise<{ page: { size: number; next: string }; notifications: ClairNotification[] } | undefined> {
    const row = await this.opts.db.selectFrom('scan_notification').select('body').where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    const all = (JSON.parse(row.body) as StoredNotification).notifications;
    const start = next
      ? Math.max(
          0,
          all.findIndex((n) => n.id === next),
        )
      : 0;
    const slice = all.slice(start, start + pageSize);
    const following = all[start + pageSize];
    return { page: { size: slice.length, next: following ? following.id : '-1' }, notifications: slice };
  }

  async delete(id: string): Promise<boolean> {
    const r = await this.opts.db.deleteFrom('scan_notification').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async list(): Promise<Array<{ id: string; createdAt: number; deliveredAt: number | null; attempts: number; lastError: string | null }>> {
    const rows = await this.opts.db
      .selectFrom('scan_notification')
      .select(['id', 'created_at', 'delivered_at', 'attempts', 'last_error'])
      .orderBy('created_at')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      createdAt: Number(r.created_at),
      deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
      attempts: Number(r.attempts),
      lastError: r.last_error,
    }));
  }

  /** POSTs the webhook for one notification; records the outcome. */
  async deliver(id: string): Promise<boolean> {
    const hook = this.opts.webhook;
    if (!hook) return false;
    const row = await this.opts.db.selectFrom('scan_notification').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row || row.delivered_at !== null) return false;
    const stored = JSON.parse(row.body) as StoredNotification;
    const manifests = [...new Set(stored.notifications.map((n) => n.manifest))];
    const body = JSON.stringify({
      notification_id: id,
      callback: `${this.opts.baseUrl.replace(/\/$/, '')}/notifier/api/v1/notification/${id}`,
      manifests,
      count: stored.notifications.length,
      added: stored.notifications.filter((n) => n.reason === 'added').length,
      removed: stored.notifications.filter((n) => n.reason === 'removed').length,
      // The first entries inline, so a small notification needs no call back.
      notifications: stored.notifications.slice(0, 100),
    });
    let error: string | undefined;
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(hook.secret, body) },
        signal: AbortSignal.timeout(15_000),
      });
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
      await res.arrayBuffer().catch(() => undefined);
    } catch (e) {
      error = (e as Error).message;
    }
    await this.opts.db
      .updateTable('scan_notification')
      .set({ attempts: Number(row.attempts) + 1, last_error: error ?? null, delivered_at: error ? null : this.now() })
      .where('id', '=', id)
      .execute();
    if (error) this.opts.log?.warn({ notification: id, error }, 'webhook delivery failed; will retry');
    return !error;
  }

  /** Retries undelivered notifications (called periodically). */
  async deliverPending(): Promise<void> {
    if (!this.opts.webhook) return;
    const rows = await this.opts.db
      .selectFrom('scan_notification')
      .select('id')
      .where('delivered_at', 'is', null)
      .where('attempts', '<', MAX_DELIVERY_ATTEMPTS)
      .orderBy('created_at')
      .limit(20)
      .execute();
    for (const r of rows) await this.deliver(r.id);
  }
}
