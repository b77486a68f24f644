// Errors that happen before a /v2 handler runs, in the spec's JSON like every other /v2 error:
// Node's HTTP parser errors (clientError), URLs the router cannot decode (Fastify's frameworkErrors),
// and methods no route serves (405 UNSUPPORTED with Allow, from the not-found handler).
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import { matchRegistryPath, type RegistryRoute } from './route-table.js';

/** Why Node's parser refused a request, in words (llhttp's codes mean little to a client). */
function parserProblem(code: string | undefined): string {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return 'the request headers are larger than the server accepts (16 KB)';
    case 'HPE_INVALID_CHUNK_SIZE':
      return 'the chunked request body has an invalid chunk size';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return 'the request has both Content-Length and Transfer-Encoding';
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return 'the request has an invalid Transfer-Encoding';
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'the request has an invalid Content-Length';
    case 'HPE_INVALID_HEADER_TOKEN':
      return 'a request header contains a character that is not allowed';
    case 'HPE_INVALID_METHOD':
      return 'the request method is not valid HTTP';
    case 'HPE_INVALID_URL':
      return 'the request target is not a valid URL';
    case 'HPE_INVALID_VERSION':
      return 'the HTTP version is not valid';
    case 'HPE_LF_EXPECTED':
    case 'HPE_CR_EXPECTED':
    case 'HPE_STRICT':
      return 'the request has malformed line endings';
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 'the request was not received in time';
    default:
      return 'the request is not valid HTTP/1.1';
  }
}

/**
 * The server's `clientError` listener: a request Node's parser refused gets the spec's error JSON
 * (400, 408 on a timeout, 431 for oversized headers) and the connection is closed.
 */
export function registryClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const code =
    err.code === 'HPE_HEADER_OVERFLOW' ||
    err.code === 'HPE_INVALID_CHUNK_SIZE' ||
    err.code === 'HPE_UNEXPECTED_CONTENT_LENGTH' ||
    err.code === 'HPE_INVALID_CONTENT_LENGTH' ||
    err.code === 'HPE_INVALID_TRANSFER_ENCODING'
      ? 'SIZE_INVALID'
      : 'UNSUPPORTED';
  const body = JSON.stringify(
    new RegistryError(code, `malformed request: ${parserProblem(err.code)}`, { reason: err.code ?? 'unknown' }).body(),
  );
  // As Node does without a listener: never write into a response that has already started on this socket.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Fastify's frameworkErrors: a URL it cannot percent-decode (FST_ERR_BAD_URL) and the like. */
export function frameworkError(err: Error & { code?: string }, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const badUrl = err.code === 'FST_ERR_BAD_URL';
  const message = badUrl ? 'the request path is not valid percent-encoding' : err.message;
  if ((req.raw.url ?? '').startsWith('/v2')) {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    const e = new RegistryError(badUrl ? 'NAME_INVALID' : 'UNSUPPORTED', message, undefined, 400);
    return reply.code(400).header('Content-Type', 'application/json').send(JSON.stringify(e.body()));
  }
  return reply
    .code(400)
    .header('Content-Type', 'application/json')
    .send(JSON.stringify({ error: message, status: 400 }));
}

/**
 * For a /v2 request no route took: a known route with a method it does not serve gets 405 UNSUPPORTED
 * with Allow (OPTIONS, TRACE, PROPFIND …); anything else is undefined (the caller sends 404).
 */
export function unsupportedMethod(
  rawUrl: string,
  method: string,
  methodsOf: (route: RegistryRoute) => string[],
): RegistryError | undefined {
  const q = rawUrl.indexOf('?');
  const rawPath = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  if (!/^\/v2(\/|$)/.test(rawPath)) return undefined;
  let rest: string;
  try {
    rest = decodeURIComponent(rawPath.replace(/^\/v2\/?/, ''));
  } catch {
    return new RegistryError('NAME_INVALID', 'the request path is not valid percent-encoding');
  }
  const match = matchRegistryPath(rest);
  if (!match) return undefined;
  const allowed = methodsOf(match.route);
  if (allowed.includes(method)) return undefined;
  return new RegistryError('UNSUPPORTED', `${method.slice(0, 20)} is not supported on ${match.pattern}`, undefined, 405, {
    Allow: allowed.join(', '),
  });
}
