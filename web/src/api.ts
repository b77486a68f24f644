// The one way the UI talks to the server: /api/v1 with the session cookie and the CSRF header on changes.
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let csrf: string | undefined;
let onExpired: (() => void) | undefined;

export function setCsrf(token: string | undefined): void {
  csrf = token;
}
/** Called when a signed-in call answers 401: the session has expired or was revoked. */
export function onSessionExpired(fn: () => void): void {
  onExpired = fn;
}

export async function api<T = any>(method: string, path: string, body?: unknown, opts: { quiet401?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  if (!res.ok) {
    const message =
      (json && typeof json === 'object' && (json.error_message || json.detail || json.message)) || `${res.status} ${res.statusText}`;
    if (res.status === 401 && !opts.quiet401) onExpired?.();
    throw new ApiError(res.status, String(message));
  }
  return json as T;
}

export const enc = (s: string) => encodeURIComponent(s);
/** A repository path for /api/v1/repository/…: each component encoded, slashes kept. */
export const repoPath = (full: string) => full.split('/').map(enc).join('/');

export interface User {
  username: string;
  email: string | null;
  super_user: boolean;
  organizations: { name: string }[];
  csrf_token?: string;
}
export interface Repo {
  namespace: string;
  name: string;
  description: string | null;
  is_public: boolean;
  created: number;
  can_write?: boolean;
  can_admin?: boolean;
  /** Quay's repository state: NORMAL, READ_ONLY or MIRROR. */
  state?: string;
}
export interface Tag {
  name: string;
  manifest_digest: string;
  size: number | null;
  last_modified: string;
  start_ts: number;
  is_manifest_list: boolean;
  end_ts?: number;
  expiration?: string;
  immutable?: boolean;
}
export interface Platform {
  digest: string;
  os: string | null;
  architecture: string | null;
  variant: string | null;
}
export interface Chart {
  name?: string;
  version?: string;
  appVersion?: string;
  description?: string;
  maintainers?: { name?: string; email?: string; url?: string }[];
  dependencies?: { name?: string; version?: string; repository?: string }[];
  home?: string;
}
export interface Summary {
  digest: string;
  media_type: string;
  kind: 'image' | 'index' | 'helm-chart' | 'artifact';
  size: number;
  platforms?: Platform[];
  chart?: Chart;
  artifact_type?: string | null;
  config_media_type?: string | null;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function shortDigest(d: string): string {
  return d.replace(/^sha256:/, '').slice(0, 12);
}

export function kindLabel(kind: Summary['kind'] | undefined): string {
  return kind === 'image'
    ? 'Image'
    : kind === 'index'
      ? 'Multi-arch index'
      : kind === 'helm-chart'
        ? 'Helm chart'
        : kind === 'artifact'
          ? 'Artifact'
          : '…';
}

export function platformLabel(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') || 'unknown';
}
