// JSON errors of /api/v1, in Quay's shape: { status, error_type, title, detail, error_message }.
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { AccountError, type AccountErrorKind } from '../../services/accounts/errors.js';
import { StorageUnavailable } from '../../storage/blobstore.js';
import { TagImmutableError } from '../../services/tag-rules.js';

const STATUS: Record<AccountErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  throttled: 429,
  disabled: 403,
  unavailable: 503,
};
const TYPE: Record<number, string> = {
  400: 'invalid_request',
  401: 'invalid_token',
  403: 'insufficient_scope',
  404: 'not_found',
  409: 'conflict',
  413: 'invalid_request',
  415: 'invalid_request',
  429: 'too_many_requests',
  500: 'internal_error',
  503: 'unavailable',
};

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendApiError(
  reply: FastifyReply,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  errorType?: string,
): FastifyReply {
  const type = errorType ?? TYPE[status] ?? 'invalid_request';
  return reply
    .code(status)
    .headers(headers)
    .header('Content-Type', 'application/json')
    .send(JSON.stringify({ status, error_type: type, title: type, detail: message, error_message: message }));
}

/** Maps any error of a handler to its JSON response; returns false for unexpected errors. */
export function mapApiError(reply: FastifyReply, err: unknown): FastifyReply | undefined {
  if (err instanceof ApiError) return sendApiError(reply, err.status, err.message);
  if (err instanceof TagImmutableError) return sendApiError(reply, 409, err.message, {}, 'tag_immutable'); // Quay's error_type
  if (err instanceof AccountError) {
    const headers: Record<string, string> = err.kind === 'throttled' ? { 'Retry-After': String(err.retryAfterSeconds ?? 1) } : {};
    return sendApiError(reply, STATUS[err.kind], err.message, headers);
  }
  if (err instanceof StorageUnavailable)
    return sendApiError(reply, 503, 'blob storage is unavailable; try again later', { 'Retry-After': '5' });
  if (err instanceof z.ZodError) {
    const msg = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
    return sendApiError(reply, 400, `invalid request: ${msg}`);
  }
  const e = err as { statusCode?: number; message?: string; code?: string };
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const message =
      e.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? 'request body is too large'
        : e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE'
          ? 'send application/json'
          : (e.message ?? 'bad request');
    return sendApiError(reply, e.statusCode, message);
  }
  return undefined;
}
