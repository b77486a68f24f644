// Reads one layer blob as a stream and hands each tar entry to the scanners that claim its path.
//
// - Compression is detected from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd, otherwise a plain
//   tar), never from the media type alone: registries see plenty of mislabelled layers.
// - Tar is parsed by ./tar.ts, which hands out headers and body pieces as subarrays of the decoded
//   chunks: no stream or promise per entry, and the bodies nobody claims are passed over uncopied.
// - Entries nobody claims are drained, never buffered; a claimed file is buffered only up to its
//   scanner's cap (bigger ones are skipped with a warning), spooled to a temp file for scanners that
//   need random access, or streamed through for scanners that look at a small part of a big file.
// - Paths are normalised (`./etc/x`, `/etc/x` and `etc//x` are `etc/x`); an entry whose path climbs
//   out with `..` is ignored with a warning.
// - Whiteouts (`.wh.<name>`, `.wh..wh..opq`) are recorded, not applied: they only mean something
//   relative to the layers below, which ./whiteouts.ts puts together.
//
// Which decoder reads a zstd layer (Node's zlib, a `zstd -dc` child process or fzstd) is decided in
// ../compression.ts; a child process is killed when the layer is abandoned or fails (the finally below).
import { Readable } from 'node:stream';
import { mkdtemp, open, rm, unlink, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TarFormatError, TarParser, type TarHeader } from './tar.js';
import { decoder, detectCompression, SNIFF_BYTES, type ZstdDecoderKind } from '../compression.js';
import type { EntryInfo, FileResult, Finding, LayerResult, ScanContext, Scanner, StreamSink } from './types.js';

/** The layer blob is not a readable (compressed) tar: truncated, corrupt or of an unknown format. */
export class LayerFormatError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LayerFormatError';
  }
}

export interface ReadLayerOptions {
  /** Recorded in the result (for the caller's cache). */
  digest?: string;
  /** Where per-layer temp directories go (default: the OS temp dir). */
  tmpDir?: string;
  /** Per-scanner size caps that replace the scanners' own maxBytes (by scanner name). */
  limits?: Record<string, number>;
  /** Called for each warning as it happens (they are also in the result). */
  onWarning?: (message: string) => void;
  /** Use this zstd decoder instead of the fastest available (benchmarks and tests compare them). */
  zstdDecoder?: ZstdDecoderKind;
}

const ODD_PATH = /^\/|\/$|\/\/|(?:^|\/)\.\.?(?:\/|$)/;

/** Normalises a tar entry name; null when it would climb out of the root with `..`. */
export function normaliseEntryPath(name: string): string | null {
  // Most names are already normal (no leading or trailing '/', no empty, '.' or '..' segment).
  if (!ODD_PATH.test(name)) return name;
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return null;
    out.push(part);
  }
  return out.join('/');
}

type Compression = LayerResult['compression'];

/** Reads the first `n` bytes without consuming them; returns a stream that still yields every byte. */
async function peek(src: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    let settled = false;
    const cleanup = () => {
      src.off('readable', onReadable);
      src.off('end', onEnd);
      src.off('error', onError);
    };
    const finish = (ended: boolean) => {
      if (settled) return;
      settled = true;
      cleanup();
      const head = Buffer.concat(chunks);
      if (ended) {
        resolve({ head, stream: Readable.from(head.length ? [head] : []) });
      } else {
        src.unshift(head);
        resolve({ head, stream: src });
      }
    };
    function onReadable() {
      while (len < n) {
        const c: Buffer | string | null = src.read();
        if (c === null) break;
        const b = typeof c === 'string' ? Buffer.from(c) : c;
        chunks.push(b);
        len += b.length;
      }
      if (len >= n) finish(false);
    }
    function onEnd() {
      finish(true);
    }
    function onError(err: Error) {
      if (settled) return;
      settled = true;
      cleanup();
      reject(err);
    }
    src.on('readable', onReadable);
    src.on('end', onEnd);
    src.on('error', onError);
  });
}

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    // fzstd's errors carry a numeric code and a terse message.
    if (typeof code === 'number' && err.message) return `${err.message} (zstd error ${code})`;
    return err.message;
  }
  return String(err);
}

function isRegular(type: string): boolean {
  return type === 'file' || type === 'contiguous-file';
}

interface ActiveSink extends StreamSink {
  scanner: Scanner;
}

/**
 * Reads one layer and returns what its files say. Throws LayerFormatError when the blob is not a
 * readable (gzip/zstd-compressed) tar; problems with single files become warnings.
 */
export async function readLayer(source: Readable, scanners: readonly Scanner[], opts: ReadLayerOptions = {}): Promise<LayerResult> {
  const files = new Map<string, FileResult>();
  const whiteouts: string[] = [];
  const opaqueDirs: string[] = [];
  const warnings: string[] = [];
  let entries = 0;
  let bytes = 0;
  const warn = (msg: string) => {
    warnings.push(msg);
    opts.onWarning?.(opts.digest ? `${opts.digest}: ${msg}` : msg);
  };
  const record = (fr: FileResult) => {
    const key = `${fr.scanner}\0${fr.path}`;
    files.delete(key); // a later entry for the same path replaces the earlier one (and moves to the end)
    files.set(key, fr);
  };

  let tmp: string | undefined;
  let tmpSeq = 0;
  const tmpDir = async () => (tmp ??= await mkdtemp(path.join(opts.tmpDir ?? tmpdir(), 'berth-index-')));
  const capOf = (s: Scanner) => opts.limits?.[s.name] ?? s.maxBytes;

  let failure: { stage: string; err: unknown } | undefined;
  const fail = (stage: string) => (err: unknown) => {
    failure ??= { stage, err };
  };
  source.on('error', fail('read'));

  let head: Buffer;
  let stream: Readable;
  try {
    ({ head, stream } = await peek(source, SNIFF_BYTES));
  } catch (err) {
    throw new LayerFormatError(`layer could not be read: ${errorText(err)}`, { cause: err });
  }
  const kind = detectCompression(head);
  if (kind === 'xz' || kind === 'bzip2' || kind === 'zip') {
    source.destroy();
    throw new LayerFormatError(`layer is ${kind}-compressed; only gzip, zstd and uncompressed tar layers are supported`);
  }
  const compression: Compression = kind;
  let decoded: Readable = stream;
  if (compression === 'gzip') {
    // 1 MiB output chunks: zlib costs about half as much CPU per byte as with 128 KiB (fewer calls
    // into zlib, fewer buffers), and the tar parser hands out subarrays of them without copying.
    const gunzip = decoder('gzip', { chunkSize: 1 << 20 });
    gunzip.on('error', fail('gzip'));
    decoded = stream.pipe(gunzip);
  } else if (compression === 'zstd') {
    const unzstd = decoder('zstd', { chunkSize: 1 << 20, ...(opts.zstdDecoder ? { zstd: opts.zstdDecoder } : {}) });
    unzstd.on('error', fail('zstd'));
    decoded = stream.pipe(unzstd);
  }
  // Errors upstream end the decoded stream, so the loop below rejects (after `failure` is set).
  if (decoded !== source) source.on('error', (err) => decoded.destroy(err));

  const tar = new TarParser();
  /** The entry whose body is being handed to sinks, and the sinks that failed on it. */
  let current: { norm: string; failed: Map<ActiveSink, unknown> } | undefined;
  const active: ActiveSink[] = [];

  /** Decides what to do with an entry: records what needs no body, opens sinks for the rest. */
  const begin = async (h: TarHeader): Promise<boolean> => {
    entries++;
    const size = h.size;
    bytes += size;
    const norm = normaliseEntryPath(h.name);
    if (norm === null) {
      warn(`ignored entry with a path outside the root: ${JSON.stringify(h.name)}`);
      return false;
    }
    if (norm === '') return false;
    const slash = norm.lastIndexOf('/');
    if (norm.startsWith('.wh.', slash + 1)) {
      const base = norm.slice(slash + 1);
      const dir = slash < 0 ? '' : norm.slice(0, slash);
      if (base === '.wh..wh..opq') opaqueDirs.push(dir);
      else if (base.length > 4) whiteouts.push(dir ? `${dir}/${base.slice(4)}` : base.slice(4));
      return false;
    }
    const info: EntryInfo = { path: norm, size, mode: h.mode, type: h.type ?? 'file' };
    // Directories carry nothing a scanner reads (whiteouts above are what removes directories).
    if (info.type === 'directory') return false;
    let claimants: Scanner[] | undefined;
    for (const s of scanners) {
      if (!s.claims(norm, info)) continue;
      claimants ??= [];
      claimants.push(s);
    }
    if (!claimants) return false;

    if (!isRegular(info.type)) {
      for (const s of claimants) {
        const target = info.type === 'link' && h.linkname != null ? normaliseEntryPath(h.linkname) : null;
        const linked = target != null ? files.get(`${s.name}\0${target}`) : undefined;
        if (linked) {
          // A hard link to a file this layer already read: same bytes, same findings.
          record({ ...structuredClone(linked), path: norm });
        } else {
          record({
            path: norm,
            scanner: s.name,
            packages: [],
            skipped: `not a regular file (${info.type}${h.linkname ? ` -> ${h.linkname}` : ''})`,
          });
        }
      }
      return false;
    }

    for (const s of claimants) {
      const cap = capOf(s);
      const ctx: ScanContext = { tmpDir: '', maxBytes: cap, warn: (m) => warn(`${norm}: ${s.name}: ${m}`) };
      if (s.input !== 'stream' && size > cap) {
        const why = `too large (${size} bytes > ${cap} byte cap of the ${s.name} scanner)`;
        warn(`${norm}: skipped: ${why}`);
        record({ path: norm, scanner: s.name, packages: [], skipped: why });
        continue;
      }
      if (!inMemory(s, info)) ctx.tmpDir = await tmpDir();
      active.push(
        Object.assign(
          openSink(s, info, ctx, () => path.join(ctx.tmpDir, String(tmpSeq++))),
          { scanner: s },
        ),
      );
    }
    if (active.length === 0) return false;
    current = { norm, failed: new Map() };
    return true;
  };

  /** A piece of the current entry's body. A scanner that fails on one file loses that file, not the layer. */
  const feed = async (chunk: Buffer): Promise<void> => {
    const failed = current!.failed;
    for (const sink of active) {
      if (failed.has(sink)) continue;
      try {
        const p = sink.write(chunk);
        if (p) await p;
      } catch (err) {
        failed.set(sink, err);
        await sink.abort().catch(() => {});
      }
    }
  };

  /** The current entry's body is complete: what each sink found. */
  const finish = async (): Promise<void> => {
    const { norm, failed } = current!;
    current = undefined;
    for (const sink of active.splice(0)) {
      let finding: Finding | undefined;
      try {
        if (failed.has(sink)) throw failed.get(sink);
        finding = await sink.end();
      } catch (err) {
        const why = `unreadable: ${errorText(err)}`;
        warn(`${norm}: ${sink.scanner.name}: ${why}`);
        record({ path: norm, scanner: sink.scanner.name, packages: [], skipped: why });
        continue;
      }
      if (!finding) continue;
      const fr: FileResult = { path: norm, scanner: sink.scanner.name, packages: finding.packages ?? [] };
      if (finding.distribution) fr.distribution = finding.distribution;
      record(fr);
    }
  };

  try {
    for await (const chunk of decoded as AsyncIterable<Buffer>) {
      tar.push(chunk);
      for (let item = tar.next(); item !== undefined; item = tar.next()) {
        if (item instanceof Uint8Array) await feed(item);
        else if (!(await begin(item))) tar.skip();
        if (current && tar.bodyDone) await finish();
      }
    }
    tar.end();
  } catch (err) {
    for (const sink of active.splice(0)) await sink.abort().catch(() => {});
    if (err instanceof TarFormatError) failure ??= { stage: 'tar', err };
    const f = failure ?? { stage: 'tar', err };
    const text = errorText(f.err);
    if (f.stage === 'read') throw new LayerFormatError(`layer could not be read: ${text}`, { cause: f.err });
    if (f.stage === 'gzip')
      throw new LayerFormatError(`layer is not a valid gzip stream (truncated or corrupt): ${text}`, { cause: f.err });
    if (f.stage === 'zstd')
      throw new LayerFormatError(`layer is not a valid zstd stream (truncated or corrupt): ${text}`, { cause: f.err });
    if (failure || /unexpected end|invalid tar|header/i.test(text)) {
      throw new LayerFormatError(`layer is not a valid tar archive (truncated or corrupt): ${text}`, { cause: f.err });
    }
    throw err;
  } finally {
    source.destroy();
    if (decoded !== source) decoded.destroy();
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => {});
  }
  // A clean tar end can still hide a bad compressed tail (a truncated gzip whose cut fell after the
  // tar's end-of-archive blocks is still truncated).
  if (failure) {
    const text = errorText(failure.err);
    throw new LayerFormatError(
      `layer is not a valid ${failure.stage === 'tar' ? 'tar archive' : `${failure.stage} stream`} (truncated or corrupt): ${text}`,
      { cause: failure.err },
    );
  }
  return {
    ...(opts.digest ? { digest: opts.digest } : {}),
    scanners: Object.fromEntries(scanners.map((s) => [s.name, s.version])),
    compression,
    entries,
    bytes,
    files: [...files.values()],
    whiteouts,
    opaqueDirs,
    warnings,
  };
}

/** Collects the file in memory (up to the cap) and scans it at the end. */
function memorySink(ctx: ScanContext, scan: (data: Buffer) => Finding | undefined | Promise<Finding | undefined>): StreamSink {
  const chunks: Buffer[] = [];
  let len = 0;
  return {
    write(chunk) {
      if (len + chunk.length > ctx.maxBytes) throw new Error(`file grew past the ${ctx.maxBytes} byte cap`);
      chunks.push(chunk);
      len += chunk.length;
    },
    async end() {
      return scan(Buffer.concat(chunks, len));
    },
    async abort() {
      chunks.length = 0;
    },
  };
}

/** Whether the scanner gets this file in memory (buffer scanners, and file scanners that take small files as a buffer). */
function inMemory(s: Scanner, info: EntryInfo): boolean {
  return s.input === 'buffer' || (s.input === 'file' && s.scanBuffer !== undefined && info.size <= (s.inMemoryBytes ?? 0));
}

function openSink(s: Scanner, info: EntryInfo, ctx: ScanContext, tmpName: () => string): StreamSink {
  if (s.input === 'stream') return s.open(info, ctx);
  if (s.input === 'buffer') return memorySink(ctx, (data) => s.scan(data, info, ctx));
  if (inMemory(s, info)) return memorySink(ctx, (data) => s.scanBuffer!(data, info, ctx));
  const file = tmpName();
  let fh: FileHandle | undefined;
  let written = 0;
  return {
    async write(chunk) {
      fh ??= await open(file, 'w', 0o600);
      written += chunk.length;
      if (written > ctx.maxBytes) throw new Error(`file grew past the ${ctx.maxBytes} byte cap`);
      await fh.write(chunk);
    },
    async end() {
      fh ??= await open(file, 'w', 0o600);
      await fh.close();
      fh = undefined;
      try {
        return await s.scan(file, info, ctx);
      } finally {
        await unlink(file).catch(() => {});
      }
    },
    async abort() {
      await fh?.close().catch(() => {});
      await unlink(file).catch(() => {});
    },
  };
}
