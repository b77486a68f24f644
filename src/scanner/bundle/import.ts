// Importing an air-gap bundle (Berth's format, or Clair's jsonblob export).
//
// Pass 1, before the database is touched: the input (a path, '-' or an http(s) URL; gzip and zstd
// recognised by their first bytes) is decompressed as a stream, every line is parsed, per-updater
// counts are checked against the header, the SHA-256 of the content against the trailer, the
// signature against --verify's key, and each updater's record lines are spooled to a temp file.
// A truncated, tampered, unsigned-when-required or wrongly signed bundle fails here and changes
// nothing. Delta bases are checked for every updater before the first write.
// Pass 2: per updater, one `replaceUpdater` transaction (an interrupted import leaves that
// updater's previous data whole); updaters whose fingerprint is already current are skipped.
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { p256KeyId, sha256Hasher, verifyP256 } from '../../crypto/index.js';
import type { DB, Dialect } from '../../db/database.js';
import { advisoryKey, type Advisory } from '../model.js';
import { AdvisoryStore, type ReplaceResult } from '../store.js';
import { download, httpClient, openDecoded } from '../updaters/fetcher.js';
import { clairToAdvisory, clairUpdaterName, isClairLine, type ClairLine } from './clair.js';
import {
  BUNDLE_FORMAT,
  BundleError,
  signedMessage,
  splitLines,
  writeLine,
  type BundleHeader,
  type BundleTrailer,
  type RecordLine,
  type UpdaterEntry,
} from './format.js';
import { recordImport } from './status.js';

export interface ImportChange {
  updater: string;
  status: 'imported' | 'skipped';
  kind: 'full' | 'delta' | 'clair';
  fingerprint: string;
  records: number;
  added: number;
  updated: number;
  withdrawn: number;
}

export interface ImportReport {
  format: 'berth' | 'clair';
  created: string | null;
  sha256: string | null;
  signed: boolean;
  keyId?: string;
  changes: ImportChange[];
  /** Clair records Berth cannot use (no package, no version scheme), per Clair updater. */
  unusable?: Record<string, number>;
}

export interface ImportOptions {
  /** PEM public key (or private): refuse anything not signed by it. */
  verifyKeyPem?: string;
  tmpDir?: string;
  proxy?: string;
  now?: () => number;
  /** Called after the last updater is written, with what changed (re-match indexed manifests here). */
  afterImport?(changes: ImportChange[]): Promise<void> | void;
  onProgress?(message: string): void;
  /** Records of one updater imported so far, of how many (every 500 and at the end). */
  onRecords?(updater: string, done: number, total: number): void;
}

interface Section {
  name: string;
  kind: 'full' | 'delta' | 'clair';
  fingerprint: string;
  fetched: number;
  deltaBase?: string;
  spool: string;
  out: WriteStream;
  records: number;
  withdrawn: number;
  /** Clair: the update operation kept. */
  ref?: string;
  date?: number;
}

/** Opens the input as a local file: paths are read in place, '-' and URLs are spooled first. */
async function localFile(input: string, dir: string, opts: ImportOptions): Promise<string> {
  if (/^https?:\/\//i.test(input)) {
    const http = httpClient(opts.proxy);
    try {
      const d = await download('bundle', input, http, dir, { maxBytes: 64 * 1024 ** 3 });
      return d.file!;
    } finally {
      await http.close().catch(() => {});
    }
  }
  if (input === '-') {
    const f = path.join(dir, 'stdin');
    await pipeline(process.stdin, createWriteStream(f));
    return f;
  }
  return input;
}

function lineError(n: number, why: string): BundleError {
  return new BundleError(`line ${n}: ${why}: the bundle is corrupt or was changed; nothing was imported`);
}

async function closeOut(out: WriteStream): Promise<void> {
  if (out.closed) return;
  out.end();
  await new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
  });
}

/** Pass 1 over a decoded stream. */
async function scan(
  decoded: Readable,
  dir: string,
  opts: ImportOptions,
): Promise<{ report: Omit<ImportReport, 'changes'>; sections: Section[] }> {
  const hasher = sha256Hasher();
  let n = 0;
  let header: BundleHeader | undefined;
  let trailer: BundleTrailer | undefined;
  let format: 'berth' | 'clair' | undefined;
  const sections = new Map<string, Section>();
  const expected = new Map<string, UpdaterEntry>();
  let current: Section | undefined;
  const clairOps = new Map<string, Section>(); // key: updater|ref
  const unusable: Record<string, number> = {};
  let seq = 0;
  const newSection = (s: Omit<Section, 'spool' | 'out' | 'records' | 'withdrawn'>): Section => {
    const spool = path.join(dir, `s${seq++}.ndjson`);
    return { ...s, spool, out: createWriteStream(spool), records: 0, withdrawn: 0 };
  };
  try {
    for await (const line of splitLines(decoded)) {
      n++;
      if (trailer) throw lineError(n, 'data after the trailer');
      if (!line.length) {
        if (format === 'berth') throw lineError(n, 'empty line');
        continue;
      }
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(line.toString('utf8'));
      } catch {
        throw lineError(n, 'not JSON (truncated?)');
      }
      if (!format) {
        if (o.format === BUNDLE_FORMAT) format = 'berth';
        else if (isClairLine(o)) format = 'clair';
        else throw new BundleError('not a Berth bundle (no berth-updates header) nor a Clair export (no Updater/Ref lines)');
      }
      if (format === 'clair') {
        if (!isClairLine(o)) throw lineError(n, 'not a Clair export line');
        const c = o as ClairLine;
        if ((c.Kind ?? 'vulnerability') !== 'vulnerability' || !c.Vuln) continue;
        const k = `${c.Updater}|${c.Ref}`;
        let s = clairOps.get(k);
        if (!s) {
          s = newSection({
            name: clairUpdaterName(c.Updater),
            kind: 'clair',
            fingerprint: c.Fingerprint || `clair-ref:${c.Ref}`,
            fetched: Date.parse(c.Date ?? '') || 0,
            ref: c.Ref,
          });
          clairOps.set(k, s);
        }
        const a = clairToAdvisory(c.Vuln, c.Updater);
        if (!a) {
          unusable[s.name] = (unusable[s.name] ?? 0) + 1;
          continue;
        }
        s.records++;
        await writeLine(s.out, `${JSON.stringify({ u: s.name, a })}\n`);
        continue;
      }
      // Berth format.
      if (o.end === BUNDLE_FORMAT) {
        trailer = o as unknown as BundleTrailer;
        continue;
      }
      hasher.update(line);
      hasher.update(NL);
      if (n === 1) {
        header = o as unknown as BundleHeader;
        if (header.version !== 1)
          throw new BundleError(`bundle format version ${String(header.version)} is not supported (this Berth reads version 1)`);
        if (!Array.isArray(header.updaters)) throw lineError(1, 'header without updaters');
        for (const u of header.updaters) {
          if (typeof u?.name !== 'string' || typeof u.fingerprint !== 'string') throw lineError(1, 'bad updater entry');
          expected.set(u.name, u);
        }
        continue;
      }
      const r = o as unknown as RecordLine;
      if (typeof r.u !== 'string' || !expected.has(r.u))
        throw lineError(n, `record of an updater the header does not list (${JSON.stringify(r.u)})`);
      if (current?.name !== r.u) {
        if (sections.has(r.u)) throw lineError(n, `records of ${r.u} are not together`);
        if (current) await closeOut(current.out);
        const e = expected.get(r.u)!;
        current = newSection({
          name: r.u,
          kind: e.delta_base !== undefined ? 'delta' : 'full',
          fingerprint: e.fingerprint,
          fetched: Date.parse(e.fetched) || 0,
          deltaBase: e.delta_base,
        });
        sections.set(r.u, current);
      }
      if ('w' in r) {
        if (current.kind !== 'delta') throw lineError(n, 'a withdrawal in a full data set');
        current.withdrawn++;
      } else if (!r.a || typeof r.a !== 'object') throw lineError(n, 'record without an advisory');
      else current.records++;
      await writeLine(current.out, `${line.toString('utf8')}\n`);
    }
  } catch (e) {
    for (const s of [...sections.values(), ...clairOps.values()]) s.out.destroy();
    if (e instanceof BundleError) throw e;
    throw new BundleError(`the bundle cannot be read (truncated or corrupt): ${(e as Error).message}; nothing was imported`);
  }
  for (const s of [...sections.values(), ...clairOps.values()]) await closeOut(s.out);

  if (format === undefined) throw new BundleError('the bundle is empty');
  if (format === 'clair') {
    if (opts.verifyKeyPem) throw new BundleError('refused: --verify needs a signed Berth bundle, and a Clair export carries no signature');
    // Per Clair updater, the latest update operation.
    const latest = new Map<string, Section>();
    for (const s of clairOps.values()) {
      const cur = latest.get(s.name);
      if (!cur || s.fetched > cur.fetched) latest.set(s.name, s);
    }
    return { report: { format, created: null, sha256: null, signed: false, unusable }, sections: [...latest.values()] };
  }
  if (!trailer) throw new BundleError('the bundle has no trailer: it is truncated; nothing was imported');
  const sha256 = hasher.hex();
  if (trailer.sha256 !== sha256 || trailer.lines !== n - 1) {
    throw new BundleError(
      `checksum mismatch (trailer says sha256 ${String(trailer.sha256).slice(0, 16)}…, content is ${sha256.slice(0, 16)}…): the bundle was changed or damaged; nothing was imported`,
    );
  }
  for (const [name, e] of expected) {
    const s = sections.get(name);
    if ((s?.records ?? 0) !== e.records || (s?.withdrawn ?? 0) !== (e.withdrawn ?? 0)) {
      throw new BundleError(`${name}: the header says ${e.records} records, the bundle has ${s?.records ?? 0}; nothing was imported`);
    }
  }
  let keyId: string | undefined;
  if (trailer.signature) keyId = trailer.signature.key_id;
  if (opts.verifyKeyPem) {
    if (!trailer.signature) throw new BundleError('refused: the bundle is not signed, and --verify asks for a signature');
    const want = p256KeyId(opts.verifyKeyPem);
    if (trailer.signature.alg !== 'ES256' || !verifyP256(opts.verifyKeyPem, signedMessage(sha256), trailer.signature.value)) {
      throw new BundleError(
        trailer.signature.key_id !== want
          ? `refused: the bundle is signed by another key (${trailer.signature.key_id.slice(0, 16)}…, expected ${want.slice(0, 16)}…)`
          : 'refused: the signature does not match the bundle',
      );
    }
  }
  // Updaters listed with no records (an empty data set, an empty delta) still count.
  const ordered: Section[] = [];
  for (const e of header!.updaters) {
    let s = sections.get(e.name);
    if (!s) {
      s = newSection({
        name: e.name,
        kind: e.delta_base !== undefined ? 'delta' : 'full',
        fingerprint: e.fingerprint,
        fetched: Date.parse(e.fetched) || 0,
        deltaBase: e.delta_base,
      });
      await closeOut(s.out);
    }
    ordered.push(s);
  }
  return { report: { format, created: header!.created, sha256, signed: !!trailer.signature, keyId }, sections: ordered };
}

const NL = Buffer.from('\n');

async function* spooled(file: string): AsyncGenerator<RecordLine> {
  for await (const line of splitLines(createReadStream(file, { highWaterMark: 1 << 20 }))) {
    if (line.length) yield JSON.parse(line.toString('utf8')) as RecordLine;
  }
}

async function* advisoriesOf(file: string): AsyncGenerator<Advisory> {
  for await (const r of spooled(file)) if ('a' in r) yield r.a;
}

/** A delta applied to the stored data set: stored records minus changed/withdrawn keys, plus the delta's records. */
async function* applyDelta(store: AdvisoryStore, name: string, file: string): AsyncGenerator<Advisory> {
  const touched = new Set<string>();
  for await (const r of spooled(file)) touched.add('w' in r ? r.w : advisoryKey(r.a));
  for await (const a of store.records(name)) if (!touched.has(advisoryKey(a))) yield a;
  yield* advisoriesOf(file);
}

/** Imports a bundle into the advisory store. Throws BundleError (nothing changed) when it is refused. */
export async function importBundle(db: DB, dialect: Dialect, input: string, opts: ImportOptions = {}): Promise<ImportReport> {
  const now = opts.now ?? Date.now;
  const dir = await mkdtemp(path.join(opts.tmpDir ?? tmpdir(), 'berth-import-'));
  try {
    const file = await localFile(input, dir, opts);
    let decoded: Readable;
    try {
      decoded = await openDecoded(file);
    } catch (e) {
      throw new BundleError(`cannot read ${input}: ${(e as Error).message}`);
    }
    opts.onProgress?.(`checking ${input}`);
    const { report, sections } = await scan(decoded, dir, opts);
    const store = new AdvisoryStore(db, dialect, { tmpDir: dir });
    const state = new Map((await store.updaterStatus()).map((s) => [s.name, s]));

    // Every delta must sit on its base before anything is written.
    for (const s of sections) {
      if (s.kind !== 'delta') continue;
      const have = state.get(s.name)?.fingerprint;
      if (have === s.fingerprint) continue; // already current: skipped below
      if (have !== s.deltaBase) {
        throw new BundleError(
          `refused: ${s.name}: this delta applies on top of fingerprint ${short(s.deltaBase)}, ` +
            `but the database holds ${have === undefined ? 'no data for it' : short(have)}; import the base bundle first (nothing was imported)`,
        );
      }
    }

    const changes: ImportChange[] = [];
    const created = report.created ? Date.parse(report.created) : now();
    for (const s of sections) {
      const have = state.get(s.name);
      const dataTime = s.fetched || created;
      if (have?.fingerprint === s.fingerprint) {
        changes.push({
          updater: s.name,
          status: 'skipped',
          kind: s.kind,
          fingerprint: s.fingerprint,
          records: have.records,
          added: 0,
          updated: 0,
          withdrawn: 0,
        });
        await recordImport(db, {
          name: s.name,
          dataTime,
          importedAt: now(),
          bundleCreated: created,
          bundleSha256: report.sha256 ?? '',
          kind: 'skipped',
        });
        opts.onProgress?.(`${s.name}: already current, skipped`);
        continue;
      }
      opts.onProgress?.(`${s.name}: importing (${s.kind}, ${s.records} records${s.withdrawn ? `, ${s.withdrawn} withdrawn` : ''})`);
      const all = s.kind === 'delta' ? applyDelta(store, s.name, s.spool) : advisoriesOf(s.spool);
      const records = opts.onRecords ? counted(all, (n) => opts.onRecords?.(s.name, n, s.records)) : all;
      const r: ReplaceResult = await store.replaceUpdater(s.name, s.fingerprint, records);
      await recordImport(db, {
        name: s.name,
        dataTime,
        importedAt: now(),
        bundleCreated: created,
        bundleSha256: report.sha256 ?? '',
        kind: s.kind,
      });
      changes.push({
        updater: s.name,
        status: 'imported',
        kind: s.kind,
        fingerprint: s.fingerprint,
        records: r.records,
        added: r.added,
        updated: r.updated,
        withdrawn: r.withdrawn,
      });
    }
    await opts.afterImport?.(changes);
    return { ...report, changes };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function* counted<T>(it: AsyncIterable<T>, tick: (n: number) => void): AsyncGenerator<T> {
  let n = 0;
  for await (const x of it) {
    yield x;
    if (++n % 500 === 0) tick(n);
  }
  tick(n);
}

function short(fp: string | undefined): string {
  if (!fp) return '(none)';
  return fp.length > 40 ? `${fp.slice(0, 40)}…` : fp;
}

// ---- delta bases --------------------------------------------------------------------------------

/**
 * What `--delta-from` reads: a previous full bundle (its checksum checked), or an index written by
 * `export-updaters --write-index` (lines {"u","k","h"} then {"u","fingerprint"} per updater).
 */
export async function readDeltaBase(file: string): Promise<import('./export.js').DeltaBase> {
  const decoded = await openDecoded(file);
  const updaters = new Map<string, { fingerprint: string; keys: Map<string, string> }>();
  const get = (u: string) => {
    let e = updaters.get(u);
    if (!e) {
      e = { fingerprint: '', keys: new Map() };
      updaters.set(u, e);
    }
    return e;
  };
  const { contentHash } = await import('../model.js');
  const hasher = sha256Hasher();
  let n = 0;
  let kind: 'bundle' | 'index' | undefined;
  let trailer: BundleTrailer | undefined;
  for await (const line of splitLines(decoded)) {
    n++;
    if (!line.length) continue;
    const o = JSON.parse(line.toString('utf8')) as Record<string, unknown>;
    if (!kind) kind = o.format === BUNDLE_FORMAT ? 'bundle' : 'index';
    if (kind === 'index') {
      if (typeof o.k === 'string') get(o.u as string).keys.set(o.k, o.h as string);
      else if (typeof o.fingerprint === 'string') get(o.u as string).fingerprint = o.fingerprint;
      continue;
    }
    if (o.end === BUNDLE_FORMAT) {
      trailer = o as unknown as BundleTrailer;
      continue;
    }
    hasher.update(line);
    hasher.update(NL);
    if (n === 1) {
      for (const u of (o as unknown as BundleHeader).updaters) {
        if (u.delta_base !== undefined)
          throw new BundleError(`--delta-from ${file}: ${u.name} is itself a delta; give a full bundle or an index file`);
        get(u.name).fingerprint = u.fingerprint;
      }
      continue;
    }
    const r = o as unknown as RecordLine;
    if ('a' in r) {
      r.a.updater = r.u;
      get(r.u).keys.set(advisoryKey(r.a), contentHash(r.a));
    }
  }
  if (kind === 'bundle' && (!trailer || trailer.sha256 !== hasher.hex()))
    throw new BundleError(`--delta-from ${file}: the bundle is truncated or damaged`);
  return { updaters };
}
