// The sync worker of one replica: every REPO_MIRROR_INTERVAL seconds (and at once after a sync-now on this
// replica) it looks for due mirrors and claims each with the lease (lease.ts), so one replica syncs a repository
// at a time. While a sync runs, its lease is renewed every third of REPO_MIRROR_LEASE_SECONDS and each step checks
// it still holds it (a cancel or a takeover stops the sync at the next step). On shutdown a running sync hands
// its lease back at once (expired), so another replica resumes it without waiting.
import { newId } from '../../crypto/index.js';
import type { MirrorConfigStore, MirrorRow, RegistryConfig } from './config-store.js';
import { claimMirror, dueMirrors, releaseMirror, renewLease } from './lease.js';
import { parseExternalReference } from './reference.js';
import { SyncStopped, syncRepository, type SyncDeps, type SyncProgress } from './sync.js';
import { openUpstream, upstreamReason, type MirrorUpstream } from './upstream.js';
import { effectiveProxy } from '../proxy-settings.js';
import { performerNamed } from '../audit/log.js';
import type { LogKind } from '../audit/kinds.js';

export interface SchedulerOptions {
  intervalMs: number;
  leaseMs: number;
  /** Syncs this replica runs at once. */
  concurrency: number;
  log?: { warn(o: object, m: string): void; info(o: object, m: string): void };
  /** Opens the upstream of a mirror (tests may wrap it). */
  open?: typeof openUpstream;
}

export class MirrorScheduler {
  private timer?: NodeJS.Timeout;
  private ticking?: Promise<void>;
  private again = false;
  private stopping = false;
  private readonly running = new Map<number, Promise<void>>();
  private readonly upstreams = new Set<MirrorUpstream>();

  constructor(
    private readonly deps: SyncDeps,
    private readonly store: MirrorConfigStore,
    private readonly opts: SchedulerOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.poke(), this.opts.intervalMs);
    this.timer.unref();
    this.poke();
  }

  /** Looks for due mirrors now (after sync-now or a state change on this replica). */
  poke(): void {
    if (this.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((e: Error) => this.opts.log?.warn({ err: { message: e.message } }, 'mirror scheduler: looking for due mirrors failed'))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.poke();
        }
      });
  }

  private async tick(): Promise<void> {
    const { ctx } = this.deps;
    if (this.running.size >= this.opts.concurrency) return;
    for (const row of await dueMirrors(ctx, ctx.now())) {
      if (this.stopping || this.running.size >= this.opts.concurrency) return;
      if (this.running.has(row.repository_id)) continue;
      const owner = `${newId()}`;
      if (!(await claimMirror(ctx, row, owner, this.opts.leaseMs))) continue;
      const run = this.run(row, owner).finally(() => {
        this.running.delete(row.repository_id);
        this.poke();
      });
      this.running.set(row.repository_id, run);
    }
  }

  private audit(kind: LogKind, row: MirrorRow & { name: string }, verb: string, message: string): void {
    const i = row.name.indexOf('/');
    this.deps.ctx.audit?.record({
      kind,
      repository: row.name,
      namespace: row.name.slice(0, i),
      performer: performerNamed(row.robot_username),
      metadata: { verb, namespace: row.name.slice(0, i), repo: row.name.slice(i + 1), message },
    });
  }

  private async run(row: MirrorRow & { name: string }, owner: string): Promise<void> {
    const { ctx } = this.deps;
    const rules = JSON.parse(row.root_rule) as string[];
    const resumed = row.sync_status === 'SYNCING';
    this.audit(
      'repo_mirror_sync_started',
      row,
      'start',
      `'${row.external_reference}' with tag pattern '${rules.join(',')}'${resumed ? ' (resumed after an interrupted sync)' : ''}`,
    );
    let lost = false;
    let latest: SyncProgress | undefined;
    let lastCheck = 0;
    const renew = async () => {
      if (lost) return;
      const ok = await renewLease(ctx, row.repository_id, owner, this.opts.leaseMs, latest && JSON.stringify(latest)).catch(() => true);
      if (!ok) lost = true;
    };
    const renewal = setInterval(() => void renew(), Math.max(50, Math.floor(this.opts.leaseMs / 3)));
    renewal.unref();
    const checkpoint = async (p: SyncProgress) => {
      latest = p;
      if (this.stopping) throw new SyncStopped('the server is stopping');
      if (Date.now() - lastCheck > 200) {
        lastCheck = Date.now();
        await renew();
      }
      if (lost) throw new SyncStopped('the sync was cancelled or another replica took it over');
    };
    let upstream: MirrorUpstream | undefined;
    try {
      const cfg = JSON.parse(row.external_registry_config) as RegistryConfig;
      const proxy = effectiveProxy(cfg.proxy, ctx.config.outboundProxy);
      upstream = (this.opts.open ?? openUpstream)(parseExternalReference(row.external_reference), {
        verifyTls: cfg.verify_tls !== false,
        credentials: this.store.credentials(row),
        ...(proxy ? { proxy } : {}),
      });
      this.upstreams.add(upstream);
      const p = await syncRepository(this.deps, row.name, upstream, rules, checkpoint);
      clearInterval(renewal);
      if (await releaseMirror(ctx, row.repository_id, owner, { ok: true, progress: JSON.stringify(p) })) {
        const changed = p.tags_total - p.tags_unchanged;
        this.audit(
          'repo_mirror_sync_success',
          row,
          'end',
          `'${row.external_reference}': ${p.tags_total} tags (${changed} copied, ${p.tags_removed.length} removed), ${p.blobs_copied} blobs copied`,
        );
      }
    } catch (e) {
      clearInterval(renewal);
      if (e instanceof SyncStopped || this.stopping) {
        // Stopping: hand the lease back expired so another replica resumes at once; cancelled: nothing to do.
        if (this.stopping && !lost)
          await ctx.db
            .updateTable('repo_mirror')
            .set({ sync_expiration_date: 0, progress: latest ? JSON.stringify(latest) : null })
            .where('repository_id', '=', row.repository_id)
            .where('lease_owner', '=', owner)
            .execute()
            .catch(() => undefined);
        this.opts.log?.info({ repository: row.name, reason: (e as Error).message }, 'mirror sync stopped');
        return;
      }
      const reason = upstreamReason(e);
      this.opts.log?.warn({ repository: row.name, reason }, 'mirror sync failed');
      const released = await releaseMirror(ctx, row.repository_id, owner, {
        ok: false,
        reason,
        progress: JSON.stringify(latest ?? {}),
      }).catch(() => false);
      if (released) this.audit('repo_mirror_sync_failed', row, 'end', `'${row.external_reference}': ${reason}`);
    } finally {
      clearInterval(renewal);
      if (upstream) this.upstreams.delete(upstream);
      upstream?.close();
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking;
    // Open upstream connections are cut, so a blob being copied stops now rather than when it ends.
    for (const u of this.upstreams) u.close();
    await Promise.all([...this.running.values()]);
  }
}
