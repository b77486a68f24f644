// Header helpers shared by the /v2 handlers.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';

export function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

/** The Range header of an upload: the inclusive byte range received so far. */
export function uploadRange(size: number): string {
  return `0-${size > 0 ? size - 1 : 0}`;
}

export function sendUploadState(reply: FastifyReply, status: number, name: string, id: string, size: number): FastifyReply {
  return reply
    .code(status)
    .headers({
      Location: uploadLocation(name, id),
      Range: uploadRange(size),
      'Docker-Upload-UUID': id,
      'Content-Length': '0',
    })
    .send();
}

export function contentLength(req: FastifyRequest): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new RegistryError('SIZE_INVALID', `Content-Length "${v}" is not a number`);
  return Number(v);
}

/** Parses an upload chunk's Content-Range ("start-end", optionally "bytes start-end/total"). */
export function chunkRange(req: FastifyRequest): { start: number; end: number } | undefined {
  const v = req.headers['content-range'];
  if (v === undefined || v === '') return undefined;
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(v.trim());
  if (!m) throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range "${v}" is not of the form start-end`, undefined, 416);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new RegistryError('BLOB_UPLOAD_INVALID', `Content-Range "${v}" ends before it starts`, undefined, 416);
  return { start, end };
}

/** Parses a blob GET's Range header into an inclusive range within `size`, or throws 416. */
export function byteRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new RegistryError('RANGE_INVALID', `Range "${header}" is not a single byte range (bytes=start-end)`, undefined, 416, {
      'Content-Range': `bytes */${size}`,
    });
  }
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) {
    throw new RegistryError('RANGE_INVALID', `Range "${header}" is outside the blob's ${size} bytes`, undefined, 416, {
      'Content-Range': `bytes */${size}`,
    });
  }
  return { start, end };
}

export function acceptList(req: FastifyRequest): string[] {
  const raw = req.headers.accept;
  const values = Array.isArray(raw) ? raw : raw ? [raw] : [];
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.split(';')[0].trim().toLowerCase())
    .filter(Boolean);
}
