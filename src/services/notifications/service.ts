// Repository notifications (Quay's RepositoryNotification): create, list, delete, reset, test; events
// queued as delivery rows in the database; a delivery loop in every replica claims due rows with a
// conditional UPDATE (so exactly one replica sends each) and POSTs them, signed with HMAC-SHA256 like
// the scanner's webhooks (X-Berth-Signature: sha256=<hex> over the exact body, a per-notification key).
// Failures count on the notification (number_of_failures) and are retried with doubling delays; at
// 3 failures the notification is disabled, as Quay does (get_enabled_notification: failures < 3),
// until an admin resets it (POST …/notification/{uuid}).
import { newId, randomToken } from '../../crypto/index.js';
import type { DB } from '../../db/database.js';
import { prepared } from '../../db/prepared.js';
import type { DataModelCache } from '../../cache/types.js';
import { CacheGroups } from '../../cache/types.js';
import { invalidateAfter } from '../../cache/invalidation.js';
import type { BerthConfig } from '../../config/load.js';
import { databaseSecretBox } from '../../startup/secret-key.js';
import { signBody, SIGNATURE_HEADER } from '../../scanner/notifier.js';
import type { VulnChange } from '../../scanner/vulns.js';
import type { Performer } from '../audit/log.js';
import { activeTag } from '../tag-expiry.js';
import {
  methodBody,
  NOTIFICATION_EVENTS,
  NOTIFICATION_METHODS,
  parseLevel,
  repositoryEventData,
  sampleEventData,
  shouldPerform,
  type EventData,
  type NotificationEvent,
} from './events.js';

/** Quay disables a notification once it has failed this many times. */
export const MAX_FAILURES = 3;
/** A delivery is given up after this many attempts even if its notification was reset in between. */
const MAX_ATTEMPTS = 6;
const LEASE_MS = 60_000;
const SEND_TIMEOUT_MS = 15_000;

export class NotificationError extends Error {
  constructor(
    readonly status: 400 | 404,
    message: string,
  ) {
    super(message);
  }
}

export interface NotificationView {
  uuid: string;
  title: string | null;
  event: string;
  method: string;
  config: Record<string, unknown>;
  event_config: Record<string, unknown>;
  number_of_failures: number;
  /** Berth: false once number_of_failures reached 3 (deliveries stop until reset). */
  enabled: boolean;
  /** Berth: the error of the most recent failed delivery, if any. */
  last_error: string | null;
}

export interface NotificationOptions {
  db: DB;
  config: BerthConfig;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /**
   * The data-model cache: remembers, per repository, whether it has a repo_push notification, so a push to one without
   * (nearly all) asks no database. Invalidated on every replica by a create, the only write that can add one. Absent:
   * every push by tag asks the database.
   */
  cache?: DataModelCache;
}

// A push by tag asks this (compiled once, ../../db/prepared.ts) unless the cache knows the repository has none: one
// statement, the repository found by name in it. Disabled ones too (filtered after): whether a repository has any is
// what the cache keeps, and only a create changes that from none to some.
const byName = prepared(2, (db: DB, repository: string, event: string) =>
  db
    .selectFrom('repo_notification')
    .innerJoin('repository', 'repository.id', 'repo_notification.repository_id')
    .selectAll('repo_notification')
    .where('repository.name', '=', repository)
    .where('repo_notification.event', '=', event),
);
const enabledNotifications = prepared(3, (db: DB, repositoryId: number, event: string, maxFailures: number) =>
  db
    .selectFrom('repo_notification')
    .selectAll()
    .where('repository_id', '=', repositoryId)
    .where('event', '=', event)
    .where('number_of_failures', '<', maxFailures),
);

type Row = {
  id: number;
  uuid: string;
  repository_id: number;
  event: string;
  method: string;
  config: string;
  event_config: string;
  title: string | null;
  secret: string;
  number_of_failures: number;
};

export class NotificationService {
  private readonly db: DB;
  private readonly now: () => number;
  private readonly owner = `replica-${newId().slice(0, 12)}`;
  private readonly publicUrl: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  /** Aborts sends in flight at shutdown (their claim is released, no failure counted). */
  private aborter = new AbortController();
  log?: NotificationOptions['log'];

  constructor(private readonly opts: NotificationOptions) {
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    this.log = opts.log;
    this.publicUrl = `${opts.config.urlScheme}://${opts.config.serverHostname}`;
    // "No repo_push notification" becomes false only by a create; a delete can only make a cached "some" stale, and
    // that answer makes the push read the rows anyway.
    invalidateAfter<NotificationService>(this, opts.cache, ['create'], () => [CacheGroups.pushNotifications]);
  }

  private get retryMs(): number {
    return this.opts.config.raw.NOTIFICATION_RETRY_SECONDS * 1000;
  }

  // ---- the API ------------------------------------------------------------------------------------

  /** Validates Quay's create body ({event, method, config, eventConfig, title}) and stores the notification. */
  async create(repositoryId: number, body: unknown): Promise<NotificationView & { signing_secret: string }> {
    const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const event = b.event;
    const method = b.method;
    if (typeof event !== 'string' || !(NOTIFICATION_EVENTS as readonly string[]).includes(event)) {
      throw new NotificationError(
        400,
        `event must be one of ${NOTIFICATION_EVENTS.join(', ')}; got ${JSON.stringify(event)?.slice(0, 60)}`,
      );
    }
    if (typeof method !== 'string' || !(NOTIFICATION_METHODS as readonly string[]).includes(method)) {
      throw new NotificationError(
        400,
        `method must be one of ${NOTIFICATION_METHODS.join(', ')}; got ${JSON.stringify(method)?.slice(0, 60)}`,
      );
    }
    const config = b.config && typeof b.config === 'object' && !Array.isArray(b.config) ? (b.config as Record<string, unknown>) : undefined;
    const url = config?.url;
    if (typeof url !== 'string' || url.length > 2048)
      throw new NotificationError(
        400,
        `config.url is required: the ${method === 'slack' ? 'Slack incoming-webhook' : 'webhook'} URL to POST to`,
      );
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new NotificationError(400, `config.url "${url.slice(0, 100)}" is not a URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new NotificationError(400, 'config.url must be an http:// or https:// URL');
    const rawEventConfig = b.eventConfig ?? b.event_config ?? {};
    if (typeof rawEventConfig !== 'object' || Array.isArray(rawEventConfig) || rawEventConfig === null)
      throw new NotificationError(400, 'eventConfig must be an object');
    const eventConfig: Record<string, unknown> = {};
    if (event === 'vulnerability_found') {
      try {
        const level = parseLevel((rawEventConfig as Record<string, unknown>).level);
        if (level !== undefined) eventConfig.level = level;
      } catch (e) {
        throw new NotificationError(400, (e as Error).message);
      }
    }
    if (b.title !== undefined && b.title !== null && (typeof b.title !== 'string' || b.title.length > 255))
      throw new NotificationError(400, 'title must be a string of at most 255 characters');
    const uuid = newId();
    const secret = randomToken(32);
    await this.db
      .insertInto('repo_notification')
      .values({
        uuid,
        repository_id: repositoryId,
        event,
        method,
        config: JSON.stringify({ url }),
        event_config: JSON.stringify(eventConfig),
        title: (b.title as string | undefined) ?? null,
        secret: databaseSecretBox(this.opts.config).seal(secret, `notification:${uuid}`),
        created_at: this.now(),
      })
      .execute();
    const view = await this.get(repositoryId, uuid);
    return { ...view, signing_secret: secret };
  }

  async list(repositoryId: number): Promise<NotificationView[]> {
    const rows = await this.db
      .selectFrom('repo_notification')
      .selectAll()
      .where('repository_id', '=', repositoryId)
      .orderBy('id')
      .execute();
    return Promise.all(rows.map((r) => this.view(r as Row)));
  }

  async get(repositoryId: number, uuid: string): Promise<NotificationView> {
    return this.view(await this.row(repositoryId, uuid));
  }

  async delete(repositoryId: number, uuid: string): Promise<NotificationView> {
    const r = await this.row(repositoryId, uuid);
    const v = await this.view(r);
    await this.db.deleteFrom('notification_delivery').where('notification_id', '=', r.id).execute();
    await this.db.deleteFrom('repo_notification').where('id', '=', r.id).execute();
    return v;
  }

  /** Quay's reset: number_of_failures back to 0, so a disabled notification delivers again. */
  async reset(repositoryId: number, uuid: string): Promise<void> {
    const r = await this.row(repositoryId, uuid);
    await this.db.updateTable('repo_notification').set({ number_of_failures: 0 }).where('id', '=', r.id).execute();
  }

  /** Queues Quay's sample data for this notification (delivered like any event). */
  async test(repositoryId: number, repository: string, uuid: string): Promise<void> {
    const r = await this.row(repositoryId, uuid);
    const data = sampleEventData(
      this.publicUrl,
      repository,
      r.event as NotificationEvent,
      JSON.parse(r.event_config) as Record<string, unknown>,
    );
    await this.enqueue(r, data, { entity_name: null }, null);
    this.wake();
  }

  private async row(repositoryId: number, uuid: string): Promise<Row> {
    const r =
      uuid.length <= 64
        ? await this.db
            .selectFrom('repo_notification')
            .selectAll()
            .where('uuid', '=', uuid)
            .where('repository_id', '=', repositoryId)
            .executeTakeFirst()
        : undefined;
    if (!r) throw new NotificationError(404, `no notification ${uuid.slice(0, 64)} on this repository`);
    return r as Row;
  }

  private async view(r: Row): Promise<NotificationView> {
    const last = await this.db
      .selectFrom('notification_delivery')
      .select('last_error')
      .where('notification_id', '=', r.id)
      .where('last_error', 'is not', null)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    const failures = Number(r.number_of_failures);
    return {
      uuid: r.uuid,
      title: r.title,
      event: r.event,
      method: r.method,
      config: JSON.parse(r.config) as Record<string, unknown>,
      event_config: JSON.parse(r.event_config) as Record<string, unknown>,
      number_of_failures: failures,
      enabled: failures < MAX_FAILURES,
      last_error: last?.last_error ?? null,
    };
  }

  // ---- events -------------------------------------------------------------------------------------

  private async enqueue(r: Row, data: EventData, performer: Record<string, unknown>, dedupKey: string | null): Promise<boolean> {
    const payload = JSON.stringify({ notification_uuid: r.uuid, event_data: data, performer_data: performer });
    const res = await this.db
      .insertInto('notification_delivery')
      .values({
        notification_id: r.id,
        event: r.event,
        payload,
        dedup_key: dedupKey,
        next_attempt_at: this.now(),
        created_at: this.now(),
      })
      .onConflict((oc) => oc.columns(['notification_id', 'dedup_key']).doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 1n) > 0;
  }

  private async enabledFor(repositoryId: number, event: NotificationEvent): Promise<Row[]> {
    return (await enabledNotifications(this.db, repositoryId, event, MAX_FAILURES)).rows as Row[];
  }

  /** repo_push: after a manifest was pushed by tag. Never throws (a push never fails for a notification). */
  async repoPushed(repository: string, tags: string[], performer: Performer, origin?: { host: string; scheme: string }): Promise<void> {
    try {
      let all: Row[] | undefined;
      const load = async () => {
        all = (await byName(this.db, repository, 'repo_push')).rows as Row[];
        return all.length > 0;
      };
      const some = this.opts.cache ? await this.opts.cache.fetch(CacheGroups.pushNotifications, repository, load) : await load();
      if (!some) return;
      // A cached "some": the rows themselves are read now. Disabled ones (MAX_FAILURES, until a reset) send nothing.
      all ??= (await byName(this.db, repository, 'repo_push')).rows as Row[];
      const rows = all.filter((r) => Number(r.number_of_failures) < MAX_FAILURES);
      if (!rows.length) return;
      // Without SERVER_HOSTNAME, the links name the host the push was sent to (TRUSTED_PROXIES decides on X-Forwarded-*).
      const base = !this.opts.config.serverHostnameSet && origin ? `${origin.scheme}://${origin.host}` : this.publicUrl;
      const data = repositoryEventData(base, repository, { updated_tags: tags });
      for (const r of rows)
        await this.enqueue(r, data, performer.name ? { entity_name: performer.name, entity_kind: performer.kind } : {}, null);
      this.wake();
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, repository }, 'could not queue repo_push notifications');
    }
  }

  /**
   * vulnerability_found: what a re-match of new advisory data newly found (scanner hook). One event per
   * repository, manifest and vulnerability id, queued once (dedup key) however many replicas saw it.
   */
  async vulnerabilitiesFound(changes: VulnChange[]): Promise<number> {
    let queued = 0;
    for (const c of changes) {
      if (!c.added.length) continue;
      const repos = await this.db
        .selectFrom('manifest')
        .innerJoin('repository', 'repository.id', 'manifest.repository_id')
        .select(['repository.id as repoId', 'repository.name as repoName', 'manifest.id as manifestId'])
        .where('manifest.digest', '=', c.manifest)
        .execute();
      for (const { repoId, repoName, manifestId } of repos) {
        const rows = await this.enabledFor(repoId, 'vulnerability_found');
        if (!rows.length) continue;
        const tags = (
          await this.db
            .selectFrom('tag')
            .select('name')
            .where('repository_id', '=', repoId)
            .where('manifest_id', '=', manifestId)
            .where(activeTag(this.now()))
            .orderBy('name')
            .execute()
        ).map((t) => t.name);
        for (const v of c.added) {
          const data = repositoryEventData(this.publicUrl, repoName, {
            tags,
            image: c.manifest,
            vulnerable_index_report_created: 'true',
            vulnerability: {
              id: v.id,
              description: v.description,
              link: v.links[0] ?? '',
              priority: v.severity,
              has_fix: !!v.fixedIn,
              package: v.package,
              version: v.version,
              fixed_in_version: v.fixedIn ?? '',
            },
          });
          for (const r of rows) {
            if (!shouldPerform(r.event, JSON.parse(r.event_config) as Record<string, unknown>, data)) continue;
            if (await this.enqueue(r, data, {}, `vuln:${c.manifest}:${v.id}`)) queued++;
          }
        }
      }
    }
    if (queued) this.wake();
    return queued;
  }

  // ---- delivery -----------------------------------------------------------------------------------

  /** Starts the delivery loop of this replica (NOTIFICATION_POLL_SECONDS, and at once after an event here). */
  start(): void {
    if (this.timer) return;
    this.stopped = false;
    if (this.aborter.signal.aborted) this.aborter = new AbortController();
    this.timer = setInterval(() => this.wake(), this.opts.config.raw.NOTIFICATION_POLL_SECONDS * 1000);
    this.timer.unref();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.aborter.abort();
    while (this.running) await this.running;
  }

  /** Runs a delivery pass now (or right after the one in progress). */
  wake(): void {
    if (this.stopped && this.timer === undefined && this.running === undefined) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.deliverDue()
      .then(
        () => undefined,
        (err) => this.log?.warn({ err: (err as Error).message }, 'notification delivery pass failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.again && !this.stopped) {
          this.again = false;
          this.wake();
        }
      });
  }

  /** One pass: claims and sends every due delivery; returns how many were sent successfully. */
  async deliverDue(): Promise<number> {
    let ok = 0;
    for (;;) {
      const now = this.now();
      const due = await this.db
        .selectFrom('notification_delivery')
        .select('id')
        .where('delivered_at', 'is', null)
        .where('abandoned_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
        .orderBy('id')
        .limit(20)
        .execute();
      if (!due.length) return ok;
      let claimed = 0;
      for (const { id } of due) {
        if (this.stopped) return ok;
        // The claim: only one replica's UPDATE matches a row whose lease is free.
        const c = await this.db
          .updateTable('notification_delivery')
          .set({ claimed_by: this.owner, claimed_until: now + LEASE_MS })
          .where('id', '=', id)
          .where('delivered_at', 'is', null)
          .where('abandoned_at', 'is', null)
          .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
          .executeTakeFirst();
        if (Number(c.numUpdatedRows) !== 1) continue;
        claimed++;
        if (await this.send(id)) ok++;
      }
      if (!claimed) return ok;
    }
  }

  private async send(id: number): Promise<boolean> {
    const d = await this.db.selectFrom('notification_delivery').selectAll().where('id', '=', id).executeTakeFirst();
    if (!d) return false;
    const n = (await this.db.selectFrom('repo_notification').selectAll().where('id', '=', d.notification_id).executeTakeFirst()) as
      | Row
      | undefined;
    if (!n) return false;
    const release = { claimed_by: null, claimed_until: null };
    if (Number(n.number_of_failures) >= MAX_FAILURES) {
      await this.db
        .updateTable('notification_delivery')
        .set({ ...release, abandoned_at: this.now(), last_error: `not sent: the notification is disabled after ${MAX_FAILURES} failures` })
        .where('id', '=', id)
        .execute();
      return false;
    }
    const stored = JSON.parse(d.payload) as { event_data: EventData };
    const body = JSON.stringify(methodBody(n.method, n.event, stored.event_data));
    const url = (JSON.parse(n.config) as { url: string }).url;
    let error: string | undefined;
    try {
      const secret = databaseSecretBox(this.opts.config).open(n.secret, `notification:${n.uuid}`);
      const res = await fetch(url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal: AbortSignal.any([AbortSignal.timeout(SEND_TIMEOUT_MS), this.aborter.signal]),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Berth-Notifications',
          [SIGNATURE_HEADER]: signBody(secret, body),
          'X-Berth-Event': n.event,
          'X-Berth-Delivery': String(id),
          'X-Berth-Notification': n.uuid,
        },
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status} from ${new URL(url).host}`;
    } catch (e) {
      error = ((e as Error).cause as Error | undefined)?.message ?? (e as Error).message;
    }
    if (error && this.aborter.signal.aborted) {
      // Shutting down: not the receiver's failure; another replica (or this one after a restart) sends it.
      await this.db.updateTable('notification_delivery').set(release).where('id', '=', id).execute();
      return false;
    }
    const attempts = Number(d.attempts) + 1;
    if (!error) {
      await this.db
        .updateTable('notification_delivery')
        .set({ ...release, attempts, delivered_at: this.now(), last_error: null })
        .where('id', '=', id)
        .execute();
      return true;
    }
    // The delivery's error first, then the count: whoever sees the new count also sees why.
    const failures = Number(n.number_of_failures) + 1;
    const give = failures >= MAX_FAILURES || attempts >= MAX_ATTEMPTS;
    await this.db
      .updateTable('notification_delivery')
      .set({
        ...release,
        attempts,
        last_error: error.slice(0, 500),
        next_attempt_at: this.now() + this.retryMs * 2 ** (attempts - 1),
        ...(give ? { abandoned_at: this.now() } : {}),
      })
      .where('id', '=', id)
      .execute();
    await this.db
      .updateTable('repo_notification')
      .set((eb) => ({ number_of_failures: eb('number_of_failures', '+', 1) }))
      .where('id', '=', n.id)
      .execute();
    if (failures >= MAX_FAILURES) {
      // Disabled: nothing else queued for it is sent (Quay drops events of a disabled notification).
      await this.db
        .updateTable('notification_delivery')
        .set({ abandoned_at: this.now(), last_error: `not sent: the notification is disabled after ${MAX_FAILURES} failures` })
        .where('notification_id', '=', n.id)
        .where('delivered_at', 'is', null)
        .where('abandoned_at', 'is', null)
        .where('id', '!=', id)
        .execute();
    }
    this.log?.warn(
      { notification: n.uuid, delivery: id, attempts, failures, error },
      give ? 'notification delivery failed; giving up' : 'notification delivery failed; will retry',
    );
    return false;
  }

  /** Berth: the deliveries of one notification, newest first (state for the UI and the API). */
  async deliveries(
    repositoryId: number,
    uuid: string,
    limit = 20,
  ): Promise<
    {
      id: number;
      event: string;
      created: number;
      attempts: number;
      delivered: number | null;
      abandoned: number | null;
      last_error: string | null;
    }[]
  > {
    const r = await this.row(repositoryId, uuid);
    const rows = await this.db
      .selectFrom('notification_delivery')
      .select(['id', 'event', 'created_at', 'attempts', 'delivered_at', 'abandoned_at', 'last_error'])
      .where('notification_id', '=', r.id)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((x) => ({
      id: Number(x.id),
      event: x.event,
      created: Number(x.created_at),
      attempts: Number(x.attempts),
      delivered: x.delivered_at === null ? null : Number(x.delivered_at),
      abandoned: x.abandoned_at === null ? null : Number(x.abandoned_at),
      last_error: x.last_error,
    }));
  }
}
