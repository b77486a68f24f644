// DISTRIBUTED_STORAGE_CONFIG entries with Quay's driver and key names: LocalStorage, S3Storage,
// RadosGWStorage and RHOCSStorage (S3-compatible), plus FEATURE_PROXY_STORAGE.
import { z } from 'zod';

const str = (what = 'a string') =>
  z.string({ error: (i) => (i.input === undefined ? 'required' : `must be ${what}`) }).min(1, 'must not be empty');
const PORT = 'must be a port number (1-65535)';
const port = z
  .union([z.number().int(PORT).min(1, PORT).max(65535, PORT), z.string().regex(/^\d{1,5}$/, PORT)], { error: PORT })
  .transform((p) => Number(p))
  .refine((p) => p >= 1 && p <= 65535, PORT);

const localStorage = z.object({ storage_path: str() }).loose();

/** Amazon S3, or an S3-compatible server named by `host` (optionally with http:// or https://) and `port`. */
const s3Storage = z
  .object({
    s3_bucket: str(),
    s3_access_key: z.string().optional(),
    s3_secret_key: z.string().optional(),
    s3_region: z.string().optional(),
    storage_path: z.string().default('/registry'),
    host: z.string().min(1).optional(),
    port: port.optional(),
  })
  .loose()
  .refine((o) => (o.s3_access_key === undefined) === (o.s3_secret_key === undefined), {
    message: 's3_access_key and s3_secret_key go together (leave both out to use the AWS default credentials)',
    path: ['s3_secret_key'],
  });

/** Ceph RADOS Gateway and OpenShift Container Storage (NooBaa): S3-compatible, path-style. */
const radosStorage = z
  .object({
    hostname: str(),
    port: port.optional(),
    is_secure: z.boolean({ error: 'must be true or false' }).default(true),
    access_key: str(),
    secret_key: str(),
    bucket_name: str(),
    storage_path: z.string().default('/registry'),
  })
  .loose();

const PARAMS = { LocalStorage: localStorage, S3Storage: s3Storage, RadosGWStorage: radosStorage, RHOCSStorage: radosStorage } as const;
type Driver = keyof typeof PARAMS;
const DRIVERS = Object.keys(PARAMS) as Driver[];

export type StorageEntry =
  | ['LocalStorage', z.infer<typeof localStorage>]
  | ['S3Storage', z.infer<typeof s3Storage>]
  | ['RadosGWStorage' | 'RHOCSStorage', z.infer<typeof radosStorage>];

/** One DISTRIBUTED_STORAGE_CONFIG entry: [driver, params] as in Quay; params are checked by the driver's schema. */
export const storageEntry = z
  .tuple([
    z.string().refine((d) => (DRIVERS as string[]).includes(d), {
      error: (i) => `unsupported storage driver ${JSON.stringify(i.input)} (supported: ${DRIVERS.join(', ')})`,
    }),
    z.record(z.string(), z.unknown(), { error: 'must be a mapping of storage parameters' }),
  ])
  .transform((entry, ctx) => {
    const schema = PARAMS[entry[0] as Driver];
    const r = schema.safeParse(entry[1], { reportInput: true });
    if (!r.success) {
      for (const issue of r.error.issues) ctx.addIssue({ ...issue, path: [1, ...issue.path] } as Parameters<typeof ctx.addIssue>[0]);
      return z.NEVER;
    }
    return [entry[0], r.data] as StorageEntry;
  });

export const storageConfigSchema = {
  DISTRIBUTED_STORAGE_CONFIG: z.record(z.string(), storageEntry).optional(),
  DISTRIBUTED_STORAGE_PREFERENCE: z.array(z.string()).optional(),
  /** Quay: serve blobs through the registry instead of redirecting to a presigned storage URL. */
  FEATURE_PROXY_STORAGE: z.boolean().default(false),
  /** Berth: how long a presigned blob URL stays valid, in seconds. */
  STORAGE_REDIRECT_SECONDS: z
    .number()
    .int()
    .min(10)
    .max(7 * 24 * 3600)
    .default(300),
};

/** The resolved storage settings a driver is built from. */
export type StorageSettings =
  | { kind: 'local'; path: string; configKey: string }
  | {
      kind: 's3';
      configKey: string;
      driver: string;
      bucket: string;
      region: string;
      endpoint?: string;
      forcePathStyle: boolean;
      credentials?: { accessKeyId: string; secretAccessKey: string };
      prefix: string;
    };

/** Turns the preferred entry into driver settings; `resolvePath` makes a local path absolute. */
export function storageSettings(name: string, entry: StorageEntry, resolvePath: (p: string) => string): StorageSettings {
  const configKey = `DISTRIBUTED_STORAGE_CONFIG.${name}`;
  const prefix = (p: string) => p.replace(/^\/+|\/+$/g, '');
  if (entry[0] === 'LocalStorage') return { kind: 'local', path: resolvePath(entry[1].storage_path), configKey };
  if (entry[0] === 'S3Storage') {
    const p = entry[1];
    let endpoint: string | undefined;
    if (p.host) {
      const withScheme = /^https?:\/\//.test(p.host) ? p.host : `https://${p.host}`;
      const u = new URL(withScheme);
      if (p.port) u.port = String(p.port);
      endpoint = u.origin;
    }
    return {
      kind: 's3',
      configKey,
      driver: entry[0],
      bucket: p.s3_bucket,
      region: p.s3_region || 'us-east-1',
      endpoint,
      // Amazon S3 itself takes virtual-hosted names; an S3-compatible server named by host takes paths.
      forcePathStyle: endpoint !== undefined,
      credentials: p.s3_access_key !== undefined ? { accessKeyId: p.s3_access_key, secretAccessKey: p.s3_secret_key ?? '' } : undefined,
      prefix: prefix(p.storage_path),
    };
  }
  const p = entry[1];
  const u = new URL(`${p.is_secure ? 'https' : 'http'}://${p.hostname}`);
  if (p.port) u.port = String(p.port);
  return {
    kind: 's3',
    configKey,
    driver: entry[0],
    bucket: p.bucket_name,
    region: 'us-east-1',
    endpoint: u.origin,
    forcePathStyle: true,
    credentials: { accessKeyId: p.access_key, secretAccessKey: p.secret_key },
    prefix: prefix(p.storage_path),
  };
}
