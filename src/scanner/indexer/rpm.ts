// RPM packages from the rpm database: SQLite (rpm >= 4.16: RHEL/UBI 9, Fedora, openSUSE, Amazon
// Linux 2023; var/lib/rpm/rpmdb.sqlite or usr/lib/sysimage/rpm/rpmdb.sqlite) and Berkeley DB hash
// (RHEL/UBI/CentOS 7-8, Amazon Linux 2; var/lib/rpm/Packages). Either way the database holds one rpm
// header blob per installed package; we parse the header format
// ourselves (rpm's docs/manual/format.md, "The Header Structure"), as stored in the database: the
// file header's 8-byte magic is left off, so a blob starts at the index entry count.
//
//   int32 il (index entries), int32 dl (data bytes), il x { int32 tag, int32 type, int32 offset,
//   int32 count }, then dl bytes of data. All big-endian; offsets are into the data area. The first
//   entry is usually a region tag (63, HEADERIMMUTABLE) that we have no use for.
//
// SUSE's NDB format (Packages.db) is not read.
import { open as openFile, readFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import type { FileScanner, FoundPackage } from './types.js';

export const RPMTAG = { NAME: 1000, VERSION: 1001, RELEASE: 1002, EPOCH: 1003, ARCH: 1022, SOURCERPM: 1044 } as const;
export const RPM_TYPE = {
  NULL: 0,
  CHAR: 1,
  INT8: 2,
  INT16: 3,
  INT32: 4,
  INT64: 5,
  STRING: 6,
  BIN: 7,
  STRING_ARRAY: 8,
  I18NSTRING: 9,
} as const;

interface IndexEntry {
  type: number;
  offset: number;
  count: number;
}

/** A parsed rpm header blob: typed access to its tags. */
export class RpmHeader {
  private readonly entries = new Map<number, IndexEntry>();
  private readonly data: Buffer;

  constructor(blob: Buffer) {
    if (blob.length < 8) throw new Error('rpm header: too short');
    const il = blob.readUInt32BE(0);
    const dl = blob.readUInt32BE(4);
    if (il === 0 || il > 0xffff) throw new Error(`rpm header: bad index entry count ${il}`);
    if (dl > 0x0fffffff) throw new Error(`rpm header: bad data length ${dl}`);
    const dataStart = 8 + il * 16;
    if (dataStart + dl > blob.length) throw new Error(`rpm header: truncated (${blob.length} bytes, needs ${dataStart + dl})`);
    this.data = blob.subarray(dataStart, dataStart + dl);
    for (let i = 0; i < il; i++) {
      const at = 8 + i * 16;
      const tag = blob.readInt32BE(at);
      const e = { type: blob.readUInt32BE(at + 4), offset: blob.readInt32BE(at + 8), count: blob.readUInt32BE(at + 12) };
      if (e.offset < 0 || e.offset > dl) continue; // region trailers and botched entries
      if (!this.entries.has(tag)) this.entries.set(tag, e);
    }
  }

  string(tag: number): string | undefined {
    const e = this.entries.get(tag);
    if (!e || (e.type !== RPM_TYPE.STRING && e.type !== RPM_TYPE.STRING_ARRAY && e.type !== RPM_TYPE.I18NSTRING)) return undefined;
    const end = this.data.indexOf(0, e.offset);
    return this.data.toString('utf8', e.offset, end < 0 ? this.data.length : end);
  }

  int(tag: number): number | undefined {
    const e = this.entries.get(tag);
    if (!e || e.count < 1) return undefined;
    switch (e.type) {
      case RPM_TYPE.INT32:
        return e.offset + 4 <= this.data.length ? this.data.readInt32BE(e.offset) : undefined;
      case RPM_TYPE.INT16:
        return e.offset + 2 <= this.data.length ? this.data.readInt16BE(e.offset) : undefined;
      case RPM_TYPE.INT8:
      case RPM_TYPE.CHAR:
        return e.offset < this.data.length ? this.data[e.offset] : undefined;
      default:
        return undefined;
    }
  }
}

/** `name-version-release.src.rpm` -> name and version-release. */
export function parseSourceRpm(srpm: string): { name: string; version: string } | undefined {
  const base = srpm.replace(/\.(no)?src\.rpm$/, '');
  const r = base.lastIndexOf('-');
  const v = r > 0 ? base.lastIndexOf('-', r - 1) : -1;
  if (v <= 0) return undefined;
  return { name: base.slice(0, v), version: base.slice(v + 1) };
}

/** One installed package from its header blob; undefined for pseudo-packages (gpg-pubkey). */
export function packageFromHeader(blob: Buffer): FoundPackage | undefined {
  const h = new RpmHeader(blob);
  const name = h.string(RPMTAG.NAME);
  const version = h.string(RPMTAG.VERSION);
  const release = h.string(RPMTAG.RELEASE);
  if (!name || !version || name === 'gpg-pubkey') return undefined;
  const epoch = h.int(RPMTAG.EPOCH);
  const evr = `${epoch ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}`;
  const pkg: FoundPackage = { name, version: evr, kind: 'binary', ecosystem: 'rpm' };
  const arch = h.string(RPMTAG.ARCH);
  if (arch) pkg.arch = arch;
  const srpm = h.string(RPMTAG.SOURCERPM);
  const src = srpm ? parseSourceRpm(srpm) : undefined;
  // A source rpm's name carries no epoch; its binaries share theirs.
  if (src) pkg.source = { name: src.name, version: `${epoch ? `${epoch}:` : ''}${src.version}` };
  return pkg;
}

function collect(blobs: Iterable<Buffer>, warn: (m: string) => void): FoundPackage[] {
  const out: FoundPackage[] = [];
  let bad = 0;
  for (const blob of blobs) {
    try {
      const p = packageFromHeader(blob);
      if (p) out.push(p);
    } catch {
      bad++;
    }
  }
  if (bad) warn(`${bad} unreadable package header(s) skipped`);
  return out;
}

/** Reads every package of an SQLite rpmdb file (a private copy: its header may be patched). */
export async function readSqliteRpmdb(file: string, warn: (m: string) => void = () => {}): Promise<FoundPackage[]> {
  // A WAL-mode database would make SQLite want -wal/-shm files next to it even read-only; the copy
  // is ours, so switch its header to rollback-journal mode (bytes 18/19: 2 -> 1) first.
  const fh = await openFile(file, 'r+');
  try {
    const hdr = Buffer.alloc(100);
    const { bytesRead } = await fh.read(hdr, 0, 100, 0);
    if (bytesRead < 100 || hdr.toString('latin1', 0, 16) !== 'SQLite format 3\0') throw new Error('not an SQLite database');
    if (hdr[18] === 2 || hdr[19] === 2) await fh.write(Buffer.from([1, 1]), 0, 2, 18);
  } finally {
    await fh.close();
  }
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT blob FROM Packages').iterate() as Iterable<{ blob: Buffer }>;
    return collect(
      (function* () {
        for (const r of rows) yield r.blob;
      })(),
      warn,
    );
  } finally {
    db.close();
  }
}

// Berkeley DB hash files (libdb's dbinc/db_page.h): page 0 is the hash metadata page (magic 0x061561
// at byte 12, in the writer's byte order; page size at 20; last page number at 32; page type in byte
// 25). Hash pages (types 2 and 13) hold an array of 16-bit item offsets after their 26-byte header,
// key and data items alternating; rpm's header blobs are data items stored off-page (item type 3:
// first overflow page number at +4, total length at +8) in a chain of overflow pages (type 7) whose
// data follows the 26-byte header, its length in the page's "high free offset" field (bytes 22-23).
// Small data items are stored on the page (item type 1).
const BDB_HASH_MAGIC = 0x00061561;

/** Every data value of a Berkeley DB hash database. */
export function bdbHashValues(db: Buffer): Buffer[] {
  if (db.length < 512) throw new Error('not a Berkeley DB file (too short)');
  let le = true;
  if (db.readUInt32LE(12) !== BDB_HASH_MAGIC) {
    if (db.readUInt32BE(12) !== BDB_HASH_MAGIC) throw new Error('not a Berkeley DB hash database');
    le = false;
  }
  const u16 = (o: number) => (le ? db.readUInt16LE(o) : db.readUInt16BE(o));
  const u32 = (o: number) => (le ? db.readUInt32LE(o) : db.readUInt32BE(o));
  if (db[25] !== 8) throw new Error(`Berkeley DB: unexpected metadata page type ${db[25]}`);
  if (db[24] !== 0) throw new Error('Berkeley DB: encrypted databases are not supported');
  const pageSize = u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw new Error(`Berkeley DB: bad page size ${pageSize}`);
  const last = Math.min(u32(32), Math.floor(db.length / pageSize) - 1);
  const out: Buffer[] = [];
  for (let n = 1; n <= last; n++) {
    const pg = n * pageSize;
    const type = db[pg + 25];
    if (type !== 2 && type !== 13) continue;
    const entries = u16(pg + 20);
    const inp = (i: number) => u16(pg + 26 + 2 * i);
    for (let i = 1; i < entries; i += 2) {
      const off = inp(i);
      if (off < 26 || off >= pageSize) continue;
      const itemType = db[pg + off];
      if (itemType === 1) {
        const end = inp(i - 1);
        if (end > off + 1 && end <= pageSize) out.push(db.subarray(pg + off + 1, pg + end));
      } else if (itemType === 3) {
        const total = u32(pg + off + 8);
        const parts: Buffer[] = [];
        let got = 0;
        let seen = 0;
        for (let next = u32(pg + off + 4); next !== 0 && got < total && seen++ <= last; ) {
          const op = next * pageSize;
          if (op + pageSize > db.length || db[op + 25] !== 7) break;
          const len = Math.min(u16(op + 22), pageSize - 26, total - got);
          parts.push(db.subarray(op + 26, op + 26 + len));
          got += len;
          next = u32(op + 16);
        }
        if (got === total) out.push(Buffer.concat(parts, total));
      }
    }
  }
  return out;
}

export async function readBdbRpmdb(file: string, warn: (m: string) => void = () => {}): Promise<FoundPackage[]> {
  // rpm keeps a 4-byte bookkeeping record next to the headers; anything that short is not a header.
  return collect(
    bdbHashValues(await readFile(file)).filter((v) => v.length > 24),
    warn,
  );
}

const SQLITE_PATHS = new Set(['var/lib/rpm/rpmdb.sqlite', 'usr/lib/sysimage/rpm/rpmdb.sqlite']);
const BDB_PATHS = new Set(['var/lib/rpm/Packages', 'usr/lib/sysimage/rpm/Packages']);

export const rpmScanner: FileScanner = {
  name: 'rpm',
  version: 1,
  kind: 'package',
  input: 'file',
  maxBytes: 64 * 1024 * 1024,
  // endsWith first: every listed path passes it, and it spares hashing every entry's path.
  claims: (p) => (p.endsWith('/rpmdb.sqlite') || p.endsWith('/Packages')) && (SQLITE_PATHS.has(p) || BDB_PATHS.has(p)),
  async scan(file, info, ctx) {
    const packages = BDB_PATHS.has(info.path) ? await readBdbRpmdb(file, ctx.warn) : await readSqliteRpmdb(file, ctx.warn);
    return { packages };
  },
};
