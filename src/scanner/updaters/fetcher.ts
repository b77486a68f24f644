// Getting upstream bytes onto local disk, for every updater alike.
//
// - `fetchSources` downloads one or more URLs with conditional requests (If-None-Match /
//   If-Modified-Since from the previous fingerprint), through an optional HTTP proxy (undici's
//   ProxyAgent), each body streamed to a temp file while it is hashed. When every URL answers 304,
//   or sends exactly the bytes it sent last time, the result is "unchanged" and the caller does no
//   database work at all.
// - `materialize` does the same for local input: a file or directory is used in place (and
//   hashed), a stream or buffer is spooled to a temp file, an http(s) URL is downloaded.
//
// Parsing always reads from a file, never from the network: a dropped connection fails the
// download, before any record is produced, and formats that need random access (zip) just work.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decoder, detectCompression, type Compression } from '../compression.js';
import { createRequire } from 'node:module';
import type { fetch as UndiciFetch, Dispatcher } from 'undici';

// undici (about 15 MB resident) is loaded by the first update run, not by every server start.
const load = createRequire(import.meta.url);
export const undici = (): typeof import('undici') => load('undici') as typeof import('undici');
import { contentHasher, hashHex } from '../../crypto/index.js';

export interface FetchOptions {
  /** Replaces the updater's default base URL (a mirror with the same layout). */
  baseUrl?: string;
  /** An HTTP(S) proxy URL, e.g. http://proxy.internal:3128. */
  proxy?: string;
  signal?: AbortSignal;
  /** The fingerprint stored after the last successful update: enables conditional requests. */
  previous?: string | null;
  /** Where temp files go (default: the OS temp directory). */
  tmpDir?: string;
  /** Largest download accepted, per URL (default 4 GiB). */
  maxBytes?: number;
  /** Air-gapped (SCANNER_AIRGAP): refuse at once, before any request. */
  airgap?: boolean;
}

/** Something to read: a local file or directory. */
export interface LocalSource {
  /** The URL it came from, or the path it was given as. */
  origin: string;
  /** A local file or directory. */
  path: string;
  kind: 'file' | 'dir';
}

/** Why an air-gapped Berth refuses to fetch (see src/scanner/bundle/airgap.ts). */
export const AIRGAP_MESSAGE =
  'not fetched: this Berth is air-gapped (SCANNER_AIRGAP / airgap: true); ' +
  'bring vulnerability data in with `berth scanner import-updaters <bundle>` (see docs/AIRGAP.md)';

export class UpdaterError extends Error {
  constructor(
    readonly updater: string,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(`${updater}: ${message}`, opts);
    this.name = 'UpdaterError';
  }
}

// ---- fingerprints ---------------------------------------------------------------------------------

interface Validators {
  etag?: string;
  lastModified?: string;
  sha256: string;
}

/** What a fetched fingerprint records, per URL: the HTTP validators and the content hash. */
export interface FetchFingerprint {
  v: 1;
  urls: Record<string, Validators>;
}

export function encodeFingerprint(f: FetchFingerprint): string {
  const urls = Object.fromEntries(
    Object.keys(f.urls)
      .sort()
      .map((u) => [u, f.urls[u]]),
  );
  return JSON.stringify({ v: 1, urls });
}

export function decodeFingerprint(s: string | null | undefined): FetchFingerprint | undefined {
  if (!s || !s.startsWith('{')) return undefined;
  try {
    const f = JSON.parse(s) as FetchFingerprint;
    return f && f.v === 1 && typeof f.urls === 'object' ? f : undefined;
  } catch {
    return undefined;
  }
}

// ---- HTTP -----------------------------------------------------------------------------------------

export interface Http {
  dispatcher: Dispatcher;
  close(): Promise<void>;
}

/** A dispatcher for one update run: through the proxy when one is configured. */
export function httpClient(proxy?: string): Http {
  const { Agent, ProxyAgent } = undici();
  const dispatcher: Dispatcher = proxy ? new ProxyAgent({ uri: proxy }) : new Agent();
  return { dispatcher, close: () => dispatcher.close() };
}

export async function tempDir(base?: string): Promise<string> {
  return mkdtemp(path.join(base ?? tmpdir(), 'berth-updater-'));
}

interface Downloaded {
  status: 200 | 304;
  file?: string;
  validators?: Validators;
}

let fileSeq = 0;

/** GET one URL into a file in `dir` (or a 304). */
export async function download(
  updater: string,
  url: string,
  http: Http,
  dir: string,
  opts: { signal?: AbortSignal; conditional?: Validators; maxBytes?: number } = {},
): Promise<Downloaded> {
  const headers: Record<string, string> = { 'user-agent': 'berth-scanner-updater', accept: '*/*' };
  if (opts.conditional?.etag) headers['if-none-match'] = opts.conditional.etag;
  if (opts.conditional?.lastModified) headers['if-modified-since'] = opts.conditional.lastModified;
  let res: Awaited<ReturnType<typeof UndiciFetch>>;
  try {
    res = await undici().fetch(url, { headers, dispatcher: http.dispatcher, signal: opts.signal, redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: Error }).cause;
    throw new UpdaterError(updater, `GET ${url} failed: ${(err as Error).message}${cause ? ` (${cause.message})` : ''}`, { cause: err });
  }
  if (res.status === 304) {
    await res.body?.cancel().catch(() => {});
    return { status: 304 };
  }
  if (res.status !== 200 || !res.body) {
    await res.body?.cancel().catch(() => {});
    throw new UpdaterError(updater, `GET ${url}: HTTP ${res.status} ${res.statusText}`);
  }
  const max = opts.maxBytes ?? 4 * 1024 ** 3;
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) {
    await res.body.cancel().catch(() => {});
    throw new UpdaterError(updater, `GET ${url}: ${declared} bytes is more than the limit of ${max}`);
  }
  const file = path.join(dir, `download-${++fileSeq}`);
  const hasher = contentHasher('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > max) return cb(new UpdaterError(updater, `GET ${url}: more than the limit of ${max} bytes`));
      hasher.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), counter, createWriteStream(file), {
      signal: opts.signal,
    });
  } catch (err) {
    await rm(file, { force: true });
    if (err instanceof UpdaterError) throw err;
    throw new UpdaterError(updater, `GET ${url}: download failed: ${(err as Error).message}`, { cause: err });
  }
  const validators: Validators = { sha256: hasher.hex() };
  const etag = res.headers.get('etag');
  const lm = res.headers.get('last-modified');
  if (etag) validators.etag = etag;
  if (lm) validators.lastModified = lm;
  return { status: 200, file, validators };
}

export type FetchedSources =
  | { unchanged: true; fingerprint: string }
  | { unchanged: false; fingerprint: string; sources: LocalSource[]; dir: string };

/**
 * Fetch every URL (conditionally when a previous fingerprint has validators for it). Unchanged
 * when all of them are unchanged; otherwise all are downloaded (the ones that answered 304 are
 * asked again without conditions, since an update replaces the updater's whole data set).
 * `optional` URLs that answer 404 are left out (an Alpine release without a community repo).
 */
export async function fetchSources(
  updater: string,
  urls: string[],
  opts: FetchOptions & { optional?: (url: string) => boolean; http?: Http },
): Promise<FetchedSources> {
  if (opts.airgap) throw new UpdaterError(updater, AIRGAP_MESSAGE);
  const prev = decodeFingerprint(opts.previous);
  const http = opts.http ?? httpClient(opts.proxy);
  const dir = await tempDir(opts.tmpDir);
  try {
    const got = new Map<string, Downloaded>();
    const missing = new Set<string>();
    for (const url of urls) {
      try {
        got.set(
          url,
          await download(updater, url, http, dir, { signal: opts.signal, conditional: prev?.urls[url], maxBytes: opts.maxBytes }),
        );
      } catch (err) {
        if (opts.optional?.(url) && /HTTP 404/.test((err as Error).message)) {
          missing.add(url);
          continue;
        }
        throw err;
      }
    }
    const present = urls.filter((u) => !missing.has(u));
    if (present.length === 0) throw new UpdaterError(updater, `none of ${urls.join(', ')} could be fetched`);
    const sameAsBefore = (u: string) => {
      const d = got.get(u)!;
      return d.status === 304 || (prev?.urls[u] !== undefined && prev.urls[u].sha256 === d.validators?.sha256);
    };
    const prevSet = new Set(Object.keys(prev?.urls ?? {}));
    const sameSet = present.length === prevSet.size && present.every((u) => prevSet.has(u));
    if (sameSet && present.every(sameAsBefore)) {
      // Keep the newest validators (a server may rotate ETags for the same bytes).
      const urlsFp: Record<string, Validators> = {};
      for (const u of present) {
        const d = got.get(u)!;
        urlsFp[u] = d.status === 304 ? prev!.urls[u] : d.validators!;
      }
      await rm(dir, { recursive: true, force: true });
      return { unchanged: true, fingerprint: encodeFingerprint({ v: 1, urls: urlsFp }) };
    }
    for (const u of present) {
      if (got.get(u)!.status === 304) got.set(u, await download(updater, u, http, dir, { signal: opts.signal, maxBytes: opts.maxBytes }));
    }
    const urlsFp: Record<string, Validators> = {};
    for (const u of present) urlsFp[u] = got.get(u)!.validators!;
    return {
      unchanged: false,
      fingerprint: encodeFingerprint({ v: 1, urls: urlsFp }),
      sources: present.map((u) => ({ origin: u, path: got.get(u)!.file!, kind: 'file' as const })),
      dir,
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    if (!opts.http) await http.close().catch(() => {});
  }
}

/** Joins a base URL and a relative path with exactly one slash. */
export function joinUrl(base: string, rel: string): string {
  return `${base.replace(/\/+$/, '')}/${rel.replace(/^\/+/, '')}`;
}

// ---- local input ----------------------------------------------------------------------------------

export type ParseInput = string | Uint8Array | NodeJS.ReadableStream | AsyncIterable<Uint8Array>;

export interface Materialized {
  sources: LocalSource[];
  fingerprint: string;
  /** Removes whatever temp files were made (nothing for a file or directory used in place). */
  close(): Promise<void>;
}

async function hashFile(file: string): Promise<string> {
  const h = contentHasher('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.hex();
}

/** Every regular file under a directory, relative paths, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

/**
 * Turns parse() input into local files: a path (file or directory, used in place), an http(s) URL
 * (downloaded), or bytes / a stream (spooled to a temp file). The fingerprint is `sha256:<hex>` of
 * the content (for a directory: of its file names and their hashes).
 */
export async function materialize(
  updater: string,
  input: ParseInput,
  opts: { tmpDir?: string; proxy?: string; signal?: AbortSignal } = {},
): Promise<Materialized> {
  if (typeof input === 'string' && /^https?:\/\//i.test(input)) {
    const f = await fetchSources(updater, [input], { proxy: opts.proxy, signal: opts.signal, tmpDir: opts.tmpDir });
    if (f.unchanged) throw new Error('unreachable');
    const dir = f.dir;
    return {
      sources: f.sources,
      fingerprint: `sha256:${decodeFingerprint(f.fingerprint)!.urls[input].sha256}`,
      close: () => rm(dir, { recursive: true, force: true }),
    };
  }
  if (typeof input === 'string') {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(input);
    } catch (err) {
      throw new UpdaterError(updater, `cannot read ${input}: ${(err as Error).message}`, { cause: err });
    }
    if (st.isDirectory()) {
      const files = await listFiles(input);
      const lines: string[] = [];
      for (const f of files) lines.push(`${await hashFile(path.join(input, f))}  ${f}`);
      return {
        sources: [{ origin: input, path: input, kind: 'dir' }],
        fingerprint: `sha256:${hashHex('sha256', lines.join('\n'))}`,
        close: async () => {},
      };
    }
    return {
      sources: [{ origin: input, path: input, kind: 'file' }],
      fingerprint: `sha256:${await hashFile(input)}`,
      close: async () => {},
    };
  }
  const dir = await tempDir(opts.tmpDir);
  const file = path.join(dir, 'input');
  const h = contentHasher('sha256');
  const source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> =
    input instanceof Uint8Array ? [input] : (input as AsyncIterable<Uint8Array>);
  try {
    const hashing = async function* () {
      for await (const chunk of source) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        h.update(b);
        yield b;
      }
    };
    await pipeline(Readable.from(hashing()), createWriteStream(file));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new UpdaterError(updater, `reading input failed: ${(err as Error).message}`, { cause: err });
  }
  return {
    sources: [{ origin: '(stream)', path: file, kind: 'file' }],
    fingerprint: `sha256:${h.hex()}`,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

// ---- reading ------------------------------------------------------------------------------------

/** Looks at a file's first bytes (compression by the scanner's one sniffer, and the first non-blank byte). */
export async function sniff(file: string): Promise<{ compression: Compression; firstByte: number | undefined }> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    const b = buf.subarray(0, bytesRead);
    const compression = detectCompression(b);
    let firstByte: number | undefined;
    for (const c of b) {
      if (c === 0xef || c === 0xbb || c === 0xbf) continue; // BOM
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) {
        firstByte = c;
        break;
      }
    }
    return { compression, firstByte };
  } finally {
    await fh.close();
  }
}

/** The file's bytes, decompressed when they are gzip or zstd. */
export async function openDecoded(file: string): Promise<Readable> {
  const { compression } = await sniff(file);
  const raw = createReadStream(file, { highWaterMark: 1 << 20 });
  if (compression !== 'gzip' && compression !== 'zstd') return raw;
  const out = decoder(compression);
  raw.on('error', (err) => out.destroy(err));
  return raw.pipe(out);
}

/** Reads a (possibly gzip/zstd-compressed) file fully, refusing more than `max` bytes. */
export async function readDecoded(file: string, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  const stream = await openDecoded(file);
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > max) {
      stream.destroy();
      throw new Error(`${file} is larger than ${max} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Parses JSON text, with the source named in the error. */
export function parseJson(text: string | Buffer, where: string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (err) {
    throw new Error(`${where}: invalid JSON: ${(err as Error).message}`);
  }
}
