// Reading a small request body (a manifest) with a hard size limit.
import type { Readable } from 'node:stream';
import { RegistryError } from '../../oci/errors.js';

export async function readLimited(stream: Readable, limit: number, declared: number | undefined): Promise<Buffer> {
  if (declared !== undefined && declared > limit) {
    stream.resume();
    throw new RegistryError('SIZE_INVALID', `manifest is ${declared} bytes, over the limit of ${limit}`, { limit }, 413);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      stream.resume();
      throw new RegistryError('SIZE_INVALID', `manifest is over the limit of ${limit} bytes`, { limit }, 413);
    }
    chunks.push(chunk as Buffer);
  }
  const body = Buffer.concat(chunks, total);
  if (declared !== undefined && body.length !== declared) {
    throw new RegistryError('SIZE_INVALID', `received ${body.length} bytes but Content-Length said ${declared}`);
  }
  return body;
}
