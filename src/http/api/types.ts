// What an /api/v1 handler gets: the request, the reply, the pattern's parameters, the caller and the services.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccountServices } from '../../services/accounts/index.js';
import type { TagService } from '../../services/tags.js';
import type { ArtifactService } from '../../services/artifacts.js';
import type { ScannerService } from '../../scanner/service.js';
import type { UpdaterStatusService } from '../../scanner/bundle/status.js';
import type { Principal } from '../../services/principal.js';
import type { AuditQueries } from '../../services/audit/query.js';
import type { NotificationService } from '../../services/notifications/service.js';
import type { MirrorService, RepositoryStates } from '../../services/mirror/index.js';

/** What the handlers use. */
export interface ApiDeps {
  accounts: AccountServices;
  tags: TagService;
  artifacts: ArtifactService;
  /** The vulnerability scanner (undefined when FEATURE_SECURITY_SCANNER is off: its rows are then not served). */
  scanner?: ScannerService;
  /** The scanner data's age per updater. */
  updaterStatus: UpdaterStatusService;
  /** The audit log's queries and repository notifications (docs/AUDIT.md). */
  audit: AuditApi;
  /** Storage quotas (undefined when FEATURE_QUOTA_MANAGEMENT is off: the quota routes answer 404). */
  quota?: import('../../services/quota/quotas.js').QuotaService;
  /** Repository mirroring (undefined when FEATURE_REPO_MIRROR is off). */
  mirror?: MirrorService;
  /** Repository states (MIRROR and READ_ONLY repositories refuse tag changes). */
  repoStates?: RepositoryStates;
  /** The pull-through cache (FEATURE_PROXY_CACHE): its rows answer 404 when it is off, as Quay's. */
  proxyCache?: import('../../services/proxy-cache/index.js').ProxyCacheService;
}

/** The audit log's queries and repository notifications, for the audit handlers. */
export interface AuditApi {
  queries: AuditQueries;
  notifications: NotificationService;
  now: () => number;
}

export interface ApiCall {
  req: FastifyRequest;
  reply: FastifyReply;
  /** The pattern's parameters, percent-decoded. */
  params: Record<string, string>;
  /** The caller, resolved once by the /api/v1 hook. */
  principal: Principal;
  deps: ApiDeps;
}

export type ApiHandler = (c: ApiCall) => Promise<unknown>;
export type ApiMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';
