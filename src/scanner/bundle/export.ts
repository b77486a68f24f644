// Writing an air-gap bundle: run updaters (or take any record sources), spool each data set to a
// temp file while counting it (the header carries the counts), then stream header, records and a
// trailer with the SHA-256 of everything before it through the compressor. Memory stays flat: a
// record is in memory only while it is being written (a delta also keeps the base's keys and
// hashes, ~150 bytes a record).
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { p256KeyId, sha256Hasher, signP256 } from '../../crypto/index.js';
import { advisoryKey, contentHash, validateAdvisory, type Advisory } from '../model.js';
import type { Updater } from '../updaters/index.js';
import type { FetchOptions } from '../updaters/fetcher.js';
import { airgapRefusal } from './airgap.js';
import {
  BUNDLE_FORMAT,
  BUNDLE_VERSION,
  bundleSink,
  compressionFor,
  signedMessage,
  splitLines,
  writeLine,
  type BundleCompression,
  type BundleHeader,
  type BundleTrailer,
  type UpdaterEntry,
} from './format.js';

/** One data set to put in a bundle. */
export interface ExportSource {
  name: string;
  fingerprint: string;
  /** When the data was fetched upstream (ms); default: now. */
  fetchedAt?: number;
  records: AsyncIterable<Advisory>;
  /** Called once the records have been read (removes the updater's temp files). */
  close?(): Promise<void>;
}

/** What a delta is computed against: per updater, the fingerprint and every record's key → content hash. */
export interface DeltaBase {
  updaters: Map<string, { fingerprint: string; keys: Map<string, string> }>;
}

export interface ExportProgress {
  phase: 'collect' | 'write';
  updater: string;
  records: number;
  /** Uncompressed bytes written so far (write phase). */
  bytes: number;
}

export interface ExportOptions {
  /** PEM of an ECDSA P-256 private key: the trailer gets a signature. */
  signKeyPem?: string;
  deltaFrom?: DeltaBase;
  compression?: BundleCompression;
  tmpDir?: string;
  now?: () => number;
  onProgress?(p: ExportProgress): void;
  /** Also write an index (updater, key, content hash per record): a small base for a later --delta-from. */
  indexFile?: string;
  /** A source whose records fail to read is left out (listed in `skipped`) instead of failing the export. */
  skipFailedSources?: boolean;
}

export interface ExportResult {
  file: string;
  sha256: string;
  lines: number;
  /** Uncompressed bytes. */
  bytes: number;
  updaters: UpdaterEntry[];
  signed: boolean;
  skipped: Array<{ updater: string; error: string }>;
}

interface Collected {
  entry: UpdaterEntry;
  spool: string;
}

/** Writes a bundle of the given sources to `file` ('-' = standard output). */
export async function exportBundle(
  file: string,
  sources: AsyncIterable<ExportSource> | Iterable<ExportSource>,
  opts: ExportOptions = {},
): Promise<ExportResult> {
  const now = opts.now ?? Date.now;
  if (opts.signKeyPem) p256KeyId(opts.signKeyPem); // a bad key fails before any work
  const dir = await mkdtemp(path.join(opts.tmpDir ?? tmpdir(), 'berth-bundle-'));
  const index = opts.indexFile ? createWriteStream(opts.indexFile) : undefined;
  try {
    const collected: Collected[] = [];
    const skipped: ExportResult['skipped'] = [];
    const seen = new Set<string>();
    let n = 0;
    for await (const src of sources) {
      if (seen.has(src.name)) throw new Error(`updater ${src.name} given twice`);
      seen.add(src.name);
      try {
        collected.push(await collect(src, path.join(dir, `${n++}.ndjson`), opts, now, index));
      } catch (e) {
        if (!opts.skipFailedSources) throw e;
        skipped.push({ updater: src.name, error: (e as Error).message });
      } finally {
        await src.close?.();
      }
    }
    if (index) {
      index.end();
      await new Promise<void>((resolve, reject) => {
        index.on('close', resolve);
        index.on('error', reject);
      });
    }

    // Phase 2: header, records, trailer, through the compressor.
    const header: BundleHeader = {
      format: BUNDLE_FORMAT,
      version: BUNDLE_VERSION,
      created: new Date(now()).toISOString(),
      generator: 'berth',
      updaters: collected.map((c) => c.entry),
    };
    const sink = bundleSink(file, opts.compression ?? compressionFor(file));
    const hasher = sha256Hasher();
    let lines = 0;
    let bytes = 0;
    const emit = async (w: Writable, text: string) => {
      const b = Buffer.from(text, 'utf8');
      hasher.update(b);
      lines++;
      bytes += b.length;
      await writeLine(w, text);
    };
    const failed = sink.done.then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    try {
      await emit(sink.input, `${JSON.stringify(header)}\n`);
      for (const c of collected) {
        let n = 0;
        for await (const line of splitLines(createReadStream(c.spool, { highWaterMark: 1 << 20 }))) {
          if (!line.length) continue;
          const b = Buffer.concat([line, NL]);
          hasher.update(b);
          lines++;
          bytes += b.length;
          await writeLine(sink.input, b as unknown as string);
          if (++n % 5000 === 0) opts.onProgress?.({ phase: 'write', updater: c.entry.name, records: n, bytes });
        }
        opts.onProgress?.({ phase: 'write', updater: c.entry.name, records: n, bytes });
      }
      const sha256 = hasher.hex();
      const trailer: BundleTrailer = { end: BUNDLE_FORMAT, lines, sha256 };
      if (opts.signKeyPem) {
        trailer.signature = { alg: 'ES256', key_id: p256KeyId(opts.signKeyPem), value: signP256(opts.signKeyPem, signedMessage(sha256)) };
      }
      await writeLine(sink.input, `${JSON.stringify(trailer)}\n`);
      sink.input.end();
      const err = await failed;
      if (err) throw err;
      return { file, sha256, lines, bytes, updaters: header.updaters, signed: !!trailer.signature, skipped };
    } catch (e) {
      sink.input.destroy();
      const err = await Promise.race([failed, new Promise((r) => setTimeout(r, 50))]);
      if (file !== '-') await rm(file, { force: true }).catch(() => {});
      throw err instanceof Error ? err : e;
    }
  } finally {
    index?.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

const NL = Buffer.from('\n');

async function collect(src: ExportSource, spool: string, opts: ExportOptions, now: () => number, index?: Writable): Promise<Collected> {
  const base = opts.deltaFrom?.updaters.get(src.name);
  const out = createWriteStream(spool);
  const outErr = new Promise<never>((_, reject) => out.on('error', reject));
  outErr.catch(() => {});
  let records = 0;
  let total = 0;
  let withdrawn = 0;
  const keysNow = base ? new Set<string>() : undefined;
  try {
    for await (const a of src.records) {
      a.updater = src.name;
      validateAdvisory(a);
      total++;
      let key: string | undefined;
      let hash: string | undefined;
      if (base || index) {
        key = advisoryKey(a);
        hash = contentHash(a);
        if (index) await writeLine(index, `${JSON.stringify({ u: src.name, k: key, h: hash })}\n`);
      }
      if (base) {
        keysNow!.add(key!);
        if (base.keys.get(key!) === hash) continue; // unchanged since the base
      }
      records++;
      await Promise.race([writeLine(out, `${JSON.stringify({ u: src.name, a })}\n`), outErr]);
      if (records % 5000 === 0) opts.onProgress?.({ phase: 'collect', updater: src.name, records, bytes: 0 });
    }
    if (base) {
      for (const key of base.keys.keys()) {
        if (keysNow!.has(key)) continue;
        withdrawn++;
        await Promise.race([writeLine(out, `${JSON.stringify({ u: src.name, w: key })}\n`), outErr]);
      }
    }
  } finally {
    out.end();
    await Promise.race([new Promise<void>((r) => out.on('close', () => r())), outErr]);
  }
  opts.onProgress?.({ phase: 'collect', updater: src.name, records, bytes: (await stat(spool)).size });
  const entry: UpdaterEntry = {
    name: src.name,
    fingerprint: src.fingerprint,
    records,
    fetched: new Date(src.fetchedAt ?? now()).toISOString(),
  };
  if (base) Object.assign(entry, { withdrawn, delta_base: base.fingerprint, total });
  if (index) await writeLine(index, `${JSON.stringify({ u: src.name, fingerprint: src.fingerprint })}\n`);
  return { entry, spool };
}

// ---- running updaters ---------------------------------------------------------------------------

export interface UpdaterRun {
  updater: string;
  ok: boolean;
  error?: string;
}

/**
 * Record sources from live updaters, fetched one at a time (each download complete before its
 * records are read). A failing updater is reported through `runs` and left out of the bundle.
 */
export async function* updaterSources(
  list: readonly Updater[],
  opts: { fetch: (u: Updater) => FetchOptions; runs: UpdaterRun[]; onStart?(u: Updater): void; airgap?: boolean },
): AsyncGenerator<ExportSource> {
  for (const u of list) {
    opts.onStart?.(u);
    if (opts.airgap) {
      opts.runs.push({ updater: u.name, ok: false, error: airgapRefusal(u.name) });
      continue;
    }
    let res: Awaited<ReturnType<typeof u.fetch>>;
    try {
      // previous: null: a bundle carries whole data sets, so never a conditional (304) fetch.
      res = await u.fetch({ ...opts.fetch(u), previous: null });
    } catch (e) {
      opts.runs.push({ updater: u.name, ok: false, error: (e as Error).message });
      continue;
    }
    if (res.unchanged) {
      opts.runs.push({ updater: u.name, ok: false, error: 'upstream said unchanged to an unconditional request' });
      continue;
    }
    const fetchedAt = Date.now();
    let failed: string | undefined;
    const records = res.records;
    async function* guarded(): AsyncGenerator<Advisory> {
      try {
        yield* records;
      } catch (e) {
        failed = (e as Error).message;
        throw e;
      }
    }
    const close = res.close;
    yield {
      name: u.name,
      fingerprint: res.fingerprint,
      fetchedAt,
      records: guarded(),
      close: async () => {
        await close();
        opts.runs.push({ updater: u.name, ok: failed === undefined, error: failed });
      },
    };
  }
}
