// /api/v1 extras the web UI needs and Quay's API lacks (read-only except the first-run admin):
//   GET  /setup                      {needs_admin}: true while no user exists (first-run screen)
//   POST /setup                      create the first superuser and sign in; 409 once any user exists
//   GET  /superuser/stats            registry health for superusers: counts, storage used, scanner data age
//   GET  /manifestsummary?repository=ns/repo&digest=…(&digest=…)
//                                    per manifest: kind (image, index, helm-chart, artifact), platforms,
//                                    total size, Helm chart metadata (read permission on the repository)
import { readSmallBlob } from '../../storage/read-blob.js';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AccountServices } from '../../services/accounts/index.js';
import { ApiError } from './errors.js';
import { requireUserCaller, sendJson, SESSION_COOKIE } from './principal.js';

const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const IMAGE_CONFIGS = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];
const CHART_FIELDS = ['name', 'version', 'appVersion', 'description', 'maintainers', 'dependencies', 'home', 'sources', 'keywords', 'type', 'apiVersion'];
const MAX_CONFIG = 256 * 1024;

const setupBody = z.object({ username: z.string().min(1).max(255), email: z.string().max(320).optional(), password: z.string().min(1).max(2048) });
const summaryQuery = z.object({ repository: z.string().min(1).max(512), digest: z.union([z.string().max(200), z.array(z.string().max(200)).max(100)]) });

interface Doc {
  mediaType?: string; artifactType?: string; config?: { mediaType: string; digest: string; size: number };
  layers?: { mediaType: string; size: number }[]; manifests?: { digest: string; size: number; platform?: { os?: string; architecture?: string; variant?: string } }[];
}

export async function uiRoutes(app: FastifyInstance, opts: { accounts: AccountServices }): Promise<void> {
  const { accounts } = opts;
  const { db } = accounts.ctx;
  const secure = accounts.ctx.auth.baseUrl.startsWith('https:');
  let setupQueue: Promise<unknown> = Promise.resolve();

  app.get('/setup', async (_req, reply) => {
    const open = accounts.ctx.auth.open;
    return sendJson(reply, 200, { needs_admin: !open && (await accounts.users.count()) === 0, open });
  });

  app.post('/setup', async (req, reply) => {
    if (accounts.ctx.auth.open) throw new ApiError(409, 'accounts are off (AUTHENTICATION_TYPE: None)');
    const b = setupBody.parse(req.body);
    // Serialized in this process so two first-run forms cannot both create a superuser.
    const run = setupQueue.then(async () => {
      if ((await accounts.users.count()) > 0) throw new ApiError(409, 'the first administrator already exists; sign in instead');
      return accounts.users.create({ name: b.username, email: b.email || undefined, password: b.password, superuser: true });
    });
    setupQueue = run.catch(() => undefined);
    const user = await run;
    req.log.info({ event: 'first_admin_created', account: user.name, ip: req.ip }, 'first administrator created');
    const s = await accounts.sessions.create(user.id);
    reply.header('Set-Cookie', `${SESSION_COOKIE}=${s.cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${accounts.ctx.auth.sessionSeconds}${secure ? '; Secure' : ''}`);
    return sendJson(reply, 201, { success: true, username: user.name, csrf_token: s.csrf });
  });

  app.get('/superuser/stats', async (req, reply) => {
    const p = requireUserCaller(req);
    if (!accounts.perms.isSuper(p)) throw new ApiError(403, 'only a superuser can see the registry health');
    const kinds = await db.selectFrom('account').select(['kind', (eb) => eb.fn.countAll<number>().as('n')]).groupBy('kind').execute();
    const count = (k: string) => Number(kinds.find((r) => r.kind === k)?.n ?? 0);
    const one = async (t: 'repository' | 'manifest' | 'tag') => Number((await db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    const blobs = await db.selectFrom('blob').select([(eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.sum<number>('size').as('bytes')]).executeTakeFirstOrThrow();
    let updaters: { name: string; records: number; updated_at: number; checked_at: number }[] | null = null;
    try {
      updaters = (await db.selectFrom('updater_state').select(['name', 'records', 'updated_at', 'checked_at']).orderBy('name').execute())
        .map((u) => ({ name: u.name, records: Number(u.records), updated_at: Number(u.updated_at), checked_at: Number(u.checked_at) }));
    } catch {
      updaters = null; // no scanner tables on this server
    }
    const newest = updaters?.length ? Math.max(...updaters.map((u) => u.updated_at)) : null;
    const now = accounts.ctx.now();
    return sendJson(reply, 200, {
      organizations: count('org'), users: count('user'), robots: count('robot'),
      repositories: await one('repository'), manifests: await one('manifest'), tags: await one('tag'),
      blobs: Number(blobs.n), storage_bytes: Number(blobs.bytes ?? 0),
      scanner: updaters === null ? null : { updaters, newest_update: newest, data_age_seconds: newest === null ? null : Math.max(0, Math.round((now - newest) / 1000)) },
    });
  });

  app.get('/manifestsummary', async (req, reply) => {
    const q = summaryQuery.parse(req.query);
    const digests = [...new Set(Array.isArray(q.digest) ? q.digest : [q.digest])];
    await accounts.repos.requireAccess(req.principal!, q.repository, 'read');
    const repo = (await db.selectFrom('repository').select('id').where('name', '=', q.repository).executeTakeFirst())!;
    const rows = digests.length ? await db.selectFrom('manifest').select(['digest', 'media_type', 'size', 'content'])
      .where('repository_id', '=', repo.id).where('digest', 'in', digests).execute() : [];
    const manifests: Record<string, unknown> = {};
    for (const r of rows) {
      let doc: Doc = {};
      try { doc = JSON.parse(Buffer.from(r.content).toString('utf8')) as Doc; } catch { /* stored manifests are valid JSON */ }
      const own = Number(r.size) + (doc.config?.size ?? 0) + (doc.layers ?? []).reduce((a, l) => a + (l.size ?? 0), 0);
      if (doc.manifests) {
        const children = await db.selectFrom('manifest').select(['digest', 'content', 'size']).where('repository_id', '=', repo.id)
          .where('digest', 'in', doc.manifests.map((m) => m.digest).concat(['-'])).execute();
        let size = Number(r.size);
        for (const c of children) {
          const d = JSON.parse(Buffer.from(c.content).toString('utf8')) as Doc;
          size += Number(c.size) + (d.config?.size ?? 0) + (d.layers ?? []).reduce((a, l) => a + (l.size ?? 0), 0);
        }
        manifests[r.digest] = {
          digest: r.digest, media_type: r.media_type, kind: 'index', size,
          platforms: doc.manifests.map((m) => ({ digest: m.digest, os: m.platform?.os ?? null, architecture: m.platform?.architecture ?? null, variant: m.platform?.variant ?? null })),
        };
        continue;
      }
      const cfg = doc.config?.mediaType ?? null;
      const kind = cfg === HELM_CONFIG ? 'helm-chart' : cfg && IMAGE_CONFIGS.includes(cfg) && !doc.artifactType ? 'image' : 'artifact';
      const out: Record<string, unknown> = { digest: r.digest, media_type: r.media_type, kind, size: own, config_media_type: cfg, artifact_type: doc.artifactType ?? null };
      if (kind === 'helm-chart' && doc.config && doc.config.size <= MAX_CONFIG) {
        try {
          const meta = JSON.parse((await readSmallBlob(accounts.ctx.store, doc.config.digest, MAX_CONFIG)).toString('utf8')) as Record<string, unknown>;
          out.chart = Object.fromEntries(CHART_FIELDS.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k]]));
        } catch {
          out.chart = {};
        }
      }
      if (kind === 'image' && doc.config && doc.config.size <= MAX_CONFIG) {
        try {
          const c = JSON.parse((await readSmallBlob(accounts.ctx.store, doc.config.digest, MAX_CONFIG)).toString('utf8')) as { os?: string; architecture?: string; variant?: string };
          out.platforms = [{ digest: r.digest, os: c.os ?? null, architecture: c.architecture ?? null, variant: c.variant ?? null }];
        } catch { /* unreadable config: no platform */ }
      }
      manifests[r.digest] = out;
    }
    return sendJson(reply, 200, { manifests });
  });

}
