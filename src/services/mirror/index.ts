// Repository mirroring (FEATURE_REPO_MIRROR, docs/MIRRORING.md), built once by the composition root:
// the configuration store, the repository state check of /v2 and tag writes, and this replica's sync worker.
import type { ServiceContext } from '../context.js';
import { UploadService } from '../uploads.js';
import { ManifestService } from '../manifests.js';
import { TagService } from '../tags.js';
import { MirrorConfigStore, type MirrorChange, type MirrorInput, type MirrorView } from './config-store.js';
import { MirrorScheduler, type SchedulerOptions } from './scheduler.js';
import type { RepositoryStates } from './write-guard.js';
import type { RepositoryState } from '../../db/types-mirror.js';

export { RepositoryStates, withRepositoryStateGuard } from './write-guard.js';

/** What the API uses (undefined when FEATURE_REPO_MIRROR is off: the endpoints then answer 404). */
export class MirrorService {
  readonly store: MirrorConfigStore;

  constructor(
    ctx: ServiceContext,
    readonly states: RepositoryStates,
    private readonly scheduler: MirrorScheduler,
  ) {
    this.store = new MirrorConfigStore(ctx);
  }

  async changeState(full: string, state: string): Promise<RepositoryState> {
    const s = await this.store.setState(full, state);
    this.scheduler.poke();
    return s;
  }

  async get(full: string): Promise<MirrorView> {
    return this.store.view(await this.store.row(full), full);
  }

  async create(full: string, input: MirrorInput): Promise<MirrorChange[]> {
    const c = await this.store.create(full, input);
    this.scheduler.poke();
    return c;
  }

  async update(full: string, input: MirrorInput): Promise<MirrorChange[]> {
    const c = await this.store.update(full, input);
    this.scheduler.poke();
    return c;
  }

  async syncNow(full: string): Promise<void> {
    await this.store.syncNow(full);
    this.scheduler.poke();
  }

  cancel(full: string): Promise<void> {
    return this.store.cancel(full);
  }
}

export interface MirrorSetup {
  service: MirrorService;
  start(): void;
  stop(): Promise<void>;
}

/** The mirror services of one server; undefined when FEATURE_REPO_MIRROR is off. */
export function buildMirror(
  ctx: ServiceContext,
  states: RepositoryStates,
  opts: { log?: SchedulerOptions['log']; open?: SchedulerOptions['open'] } = {},
): MirrorSetup | undefined {
  const raw = ctx.config.raw;
  if (!raw.FEATURE_REPO_MIRROR) return undefined;
  const deps = { ctx, uploads: new UploadService(ctx), manifests: new ManifestService(ctx), tags: new TagService(ctx) };
  const store = new MirrorConfigStore(ctx);
  const scheduler = new MirrorScheduler(deps, store, {
    intervalMs: raw.REPO_MIRROR_INTERVAL * 1000,
    leaseMs: raw.REPO_MIRROR_LEASE_SECONDS * 1000,
    concurrency: 2,
    log: opts.log,
    open: opts.open,
  });
  const service = new MirrorService(ctx, states, scheduler);
  return { service, start: () => scheduler.start(), stop: () => scheduler.stop() };
}
