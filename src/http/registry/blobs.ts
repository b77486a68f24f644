// GET/HEAD/DELETE /v2/:name/blobs/:digest
import type { OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Handler } from './types.js';
import { byteRange } from './headers.js';
import { RegistryError } from '../../oci/errors.js';

export const getBlob: Handler = async ({ req, reply, match, services }) => {
  // A proxy cache organization: a blob not stored yet is asked for upstream (HEAD) or fetched while stored (GET); a
  // ranged GET has it fetched and stored whole first, then the ordinary read answers the range.
  if (services.proxyCache && !req.headers.range) {
    if (req.method === 'HEAD') {
      const upstream = await services.proxyCache.blobHead(match.name, match.ref);
      if (upstream) return sendUpstreamHead(reply, match.ref, upstream.size);
    } else {
      const proxied = await services.proxyCache.blob(match.name, match.ref);
      if (proxied) return sendProxiedBlob(reply, match.ref, proxied);
    }
  } else if (services.proxyCache && req.method === 'GET') await services.proxyCache.storeBlob(match.name, match.ref);
  const blob = await services.blobs.find(match.name, match.ref);
  const head = req.method === 'HEAD';
  const range = byteRange(req.headers.range, blob.size);
  reply.headers({
    'Docker-Content-Digest': blob.digest,
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    ETag: `"${blob.digest}"`,
    'Cache-Control': 'max-age=31536000',
  });
  if (range) {
    reply.code(206).headers({
      'Content-Range': `bytes ${range.start}-${range.end}/${blob.size}`,
      'Content-Length': String(range.end - range.start + 1),
    });
  } else {
    reply.code(200).header('Content-Length', String(blob.size));
  }
  if (head) return reply.send();
  if (blob.redirectUrl) {
    // Object storage: the client fetches the bytes from the store with a short-lived presigned URL (Range applies there).
    const location = await blob.redirectUrl();
    // A client keeps its Authorization header on a redirect to the same host name (Go's rule, whatever the port): the
    // store would get two credentials and refuse both. Such a request is streamed through Berth instead.
    if (!(req.headers.authorization && sameHostName(location, req.headers.host))) {
      reply.removeHeader('Content-Range').removeHeader('Content-Length').removeHeader('Accept-Ranges').removeHeader('Cache-Control');
      return reply.code(307).header('Location', location).header('Content-Length', '0').send();
    }
  }
  if (blob.openReady) return reply.send(await blob.openReady(range));
  if (blob.sendTo) {
    // Large pulls go straight to the socket through a few reused buffers (src/storage/pooled-send.ts).
    let started = false;
    try {
      // The whole blob is the range [0, size-1] the database knows: a file cut short on disk then fails the
      // response instead of ending it early under a Content-Length it does not meet.
      await blob.sendTo(range ?? { start: 0, end: blob.size - 1 }, reply.raw, () => {
        started = true;
        reply.hijack();
        reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
      });
    } catch (err) {
      // Collected by gc between the database lookup and the open (a blob nothing references): unknown now.
      if (!started && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new RegistryError('BLOB_UNKNOWN', `blob ${blob.digest} is not in this repository`, { digest: blob.digest });
      }
      if (!started) throw err;
      req.log.error({ err, digest: blob.digest }, 'blob send failed after the response started');
      reply.raw.destroy();
      return;
    }
    reply.raw.end();
    return;
  }
  return reply.send(blob.open(range));
};

export const deleteBlob: Handler = async ({ reply, match, services }) => {
  await services.blobs.delete(match.name, match.ref);
  return reply.code(202).header('Content-Length', '0').send();
};

function sameHostName(location: string, hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  try {
    return new URL(location).hostname.toLowerCase() === new URL(`http://${hostHeader}`).hostname.toLowerCase();
  } catch {
    return false;
  }
}

/** A blob streamed from the proxy cache's upstream while it is stored: an error mid-way cuts the connection. */
function sendProxiedBlob(reply: FastifyReply, digest: string, blob: { stream: Readable; size?: number }): FastifyReply {
  reply.code(200).headers({ 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', ETag: `"${digest}"` });
  if (blob.size !== undefined) reply.header('Content-Length', String(blob.size));
  blob.stream.on('error', () => reply.raw.destroy());
  return reply.send(blob.stream);
}

/** A blob HEAD answered from the proxy cache's upstream (not stored yet): its size, no body. */
function sendUpstreamHead(reply: FastifyReply, digest: string, size: number | undefined): FastifyReply {
  reply.code(200).headers({ 'Docker-Content-Digest': digest, 'Content-Type': 'application/octet-stream', ETag: `"${digest}"` });
  if (size !== undefined) reply.header('Content-Length', String(size));
  return reply.send();
}
