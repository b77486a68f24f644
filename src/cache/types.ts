// The data-model cache: the hot lookups (manifest by tag, repository facts and roles, account standing,
// verified tokens) behind one interface, in memory on a laptop and in Redis for replicas (docs/SCALE-OUT.md).
// Entries live in named groups; a write invalidates whole groups, on every replica.

export interface DataModelCache {
  readonly engine: 'inmemory' | 'redis';
  /**
   * Read-through: the cached value of `key` in `group`, else `load()` (stored unless undefined).
   * A load that straddles an invalidation of its group is returned but never stored.
   * When the cache cannot be trusted (Redis down), this is just `load()`.
   */
  fetch<T>(group: string, key: string, load: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Forgets the group here at once and on every other replica (Redis pub/sub). Never throws. */
  invalidate(...groups: string[]): Promise<void>;
  close(): Promise<void>;
}

/** Where a cache or Redis connection reports trouble (the server's logger once it exists). */
export interface CacheLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** The groups, named in one place. */
export const CacheGroups = {
  /** Repository facts, roles and account standing: any account, team, permission or visibility write. */
  perm: 'perm',
  /** Manifests by tag of one repository: tag set, move, delete, restore; manifest or repository delete. */
  tags: (repository: string) => `tags:${repository}`,
  /** Proxy cache configurations of organizations (rows as stored, credentials sealed): their create and delete. */
  proxyCache: 'proxycache',
  /** Whether a repository (key: its name) has a repo_push notification: a notification's create. */
  pushNotifications: 'pushnotif',
  /** Verified registry tokens (claims by token digest); never invalidated, each entry lives until its token expires. */
  tokens: 'tokens',
} as const;
