// The external_reference of a mirror: "host[:port]/namespace/repository" (no scheme, no tag, no digest),
// as Quay and skopeo name a remote repository.
import { AccountError } from '../accounts/errors.js';

const HOST_RE =
  /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

export interface ExternalReference {
  /** host[:port] as written. */
  host: string;
  /** The repository path on that host. */
  repository: string;
}

/** Parses and checks an external_reference; throws a specific 400 naming the bad part. */
export function parseExternalReference(value: unknown): ExternalReference {
  if (typeof value !== 'string' || value.trim() === '')
    throw new AccountError('invalid', 'external_reference must be "host[:port]/namespace/repository"');
  const v = value.trim();
  if (v.length > 512) throw new AccountError('invalid', 'external_reference is longer than 512 characters');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v))
    throw new AccountError(
      'invalid',
      `external_reference "${v.slice(0, 200)}" must not have a scheme: write host[:port]/namespace/repository`,
    );
  if (/[@]/.test(v) || /:[^/]*$/.test(v.slice(v.indexOf('/') + 1)))
    throw new AccountError('invalid', `external_reference "${v.slice(0, 200)}" must name a repository, without a tag or digest`);
  const slash = v.indexOf('/');
  if (slash < 0) throw new AccountError('invalid', `external_reference "${v.slice(0, 200)}" must be host[:port]/namespace/repository`);
  const host = v.slice(0, slash);
  const repository = v.slice(slash + 1).replace(/\/+$/, '');
  if (!HOST_RE.test(host) || !(/[.:]/.test(host) || host === 'localhost'))
    throw new AccountError('invalid', `"${host.slice(0, 200)}" in external_reference is not a registry host[:port]`);
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port && (Number(port) < 1 || Number(port) > 65535))
    throw new AccountError('invalid', `port ${port} in external_reference is out of range`);
  if (!repository) throw new AccountError('invalid', `external_reference "${v.slice(0, 200)}" names no repository`);
  for (const c of repository.split('/'))
    if (!COMPONENT_RE.test(c))
      throw new AccountError('invalid', `"${c.slice(0, 100)}" in external_reference is not a valid repository name component`);
  return { host, repository };
}
