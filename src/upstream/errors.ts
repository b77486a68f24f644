// Typed failures of a remote registry, so a caller can tell "the upstream is down" from "it refused us"
// from "it has no such thing" from "it answered with an error of its own" from "it sent wrong bytes".

/** What went wrong, in one word (stable: callers switch on it). */
export type UpstreamFailure = 'unreachable' | 'unauthorized' | 'not_found' | 'upstream_error' | 'digest_mismatch' | 'invalid_reference';

/** One error of an OCI error body (`{"errors":[{"code","message","detail"}]}`). */
export interface OciErrorEntry {
  code: string;
  message: string;
  detail?: unknown;
}

export class UpstreamError extends Error {
  constructor(
    readonly failure: UpstreamFailure,
    message: string,
    /** The upstream's HTTP status when it answered at all. */
    readonly status?: number,
    /** The upstream's OCI error body entries, when it sent one. */
    readonly errors: OciErrorEntry[] = [],
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** No answer: connection refused, DNS, TLS trust, timeout, connection cut. */
export class UpstreamUnreachableError extends UpstreamError {
  constructor(message: string) {
    super('unreachable', message);
  }
}

/** The upstream refused the credentials (or wants some and none are configured): 401, or 403 from the token endpoint. */
export class UpstreamUnauthorizedError extends UpstreamError {
  constructor(message: string, status = 401, errors: OciErrorEntry[] = []) {
    super('unauthorized', message, status, errors);
  }
}

/** 404: no such repository, tag, manifest or blob upstream. */
export class UpstreamNotFoundError extends UpstreamError {
  constructor(message: string, errors: OciErrorEntry[] = []) {
    super('not_found', message, 404, errors);
  }
}

/** Any other non-success answer (5xx, 403, 429, …) with the upstream's status and error body. */
export class UpstreamStatusError extends UpstreamError {
  constructor(message: string, status: number, errors: OciErrorEntry[] = []) {
    super('upstream_error', message, status, errors);
  }
}

/** The upstream's bytes do not hash to the digest asked for. */
export class UpstreamDigestError extends UpstreamError {
  constructor(
    message: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('digest_mismatch', message);
  }
}

/** A reference or upstream registry string that cannot be parsed. */
export class UpstreamReferenceError extends UpstreamError {
  constructor(message: string) {
    super('invalid_reference', message);
  }
}

/** Parses an OCI error body; [] when it is not one. */
export function parseOciErrors(body: Buffer | string): OciErrorEntry[] {
  try {
    const j = JSON.parse(typeof body === 'string' ? body : body.toString('utf8')) as { errors?: unknown };
    if (!Array.isArray(j.errors)) return [];
    return j.errors
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({ code: String(e.code ?? 'UNKNOWN'), message: String(e.message ?? ''), detail: e.detail }));
  } catch {
    return [];
  }
}

/** "CODE: message; CODE: message" or the start of a non-JSON body. */
export function describeErrors(errors: OciErrorEntry[], body?: Buffer): string {
  if (errors.length) return errors.map((e) => (e.message ? `${e.code}: ${e.message}` : e.code)).join('; ');
  const text = body?.toString('utf8').trim().slice(0, 200) ?? '';
  return text;
}
