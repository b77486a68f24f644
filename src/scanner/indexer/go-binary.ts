// Go binaries: the build info the Go linker embeds (what `go version -m` prints): toolchain version,
// main module, dependencies (with replacements) and build settings.
//
// Where it is: a 32-byte header starting with "\xff Go buildinf:" at a 16-byte-aligned address in
// the binary's writable data (the .go.buildinfo section). Byte 14 is the pointer size, byte 15 flags:
// bit 1 set (Go >= 1.18) means the header is followed inline by two varint-length-prefixed strings,
// the Go version and the module info; otherwise (Go 1.13-1.17) the header holds two pointers to Go
// string headers (pointer, length) of runtime.buildVersion and runtime.modinfo, in byte order bit 0.
// Module info is framed by 16-byte sentinels that we strip.
//
// Streaming: a layer is read once, front to back, so the scanner looks at ELF files as they stream
// by. The ELF and program headers (first 64 KiB) say where the writable segment lies in the file;
// the magic is searched there only, so the same string in read-only data (binaries that link
// debug/buildinfo) is not mistaken for it. The inline format is decoded as it streams past, with
// nothing but the few KiB of build info kept. The pointer format needs bytes that came earlier in the
// file (read-only data), so a binary with a Go build ID note is spooled to a private temp file until
// its header turns out to be inline (only its non-executable segments: the text segment cannot hold
// what the pointers point at); old-format binaries are then read from the spool, capped at the
// scanner's maxBytes.
import { open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { EntryInfo, FoundPackage, ScanContext, StreamScanner, StreamSink } from './types.js';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const HEADER_SIZE = 32;
const HEAD_BYTES = 64 * 1024;
const MAX_INFO_BYTES = 8 * 1024 * 1024;
const MIN_GO_BINARY = 16 * 1024;

export interface GoModule {
  path: string;
  version: string;
  sum?: string;
  replace?: GoModule;
}
export interface GoBuildInfo {
  goVersion: string;
  /** The `path` line: the main package's import path. */
  path?: string;
  main?: GoModule;
  deps: GoModule[];
  settings: Array<[string, string]>;
}

/** Parses the module info text (`path`, `mod`, `dep`, `=>`, `build` lines, tab-separated). */
export function parseModInfo(goVersion: string, mod: string): GoBuildInfo {
  const info: GoBuildInfo = { goVersion, deps: [], settings: [] };
  let last: GoModule | undefined;
  for (const line of mod.split('\n')) {
    const f = line.split('\t');
    const mk = (): GoModule => {
      const m: GoModule = { path: f[1] ?? '', version: f[2] ?? '' };
      if (f[3]) m.sum = f[3];
      return m;
    };
    switch (f[0]) {
      case 'path':
        info.path = f[1];
        break;
      case 'mod':
        last = info.main = mk();
        break;
      case 'dep':
        last = mk();
        info.deps.push(last);
        break;
      case '=>':
        if (last) last.replace = mk();
        break;
      case 'build': {
        const kv = f.slice(1).join('\t');
        const eq = kv.indexOf('=');
        if (eq > 0) info.settings.push([kv.slice(0, eq), kv.slice(eq + 1)]);
        break;
      }
    }
  }
  return info;
}

function stripSentinels(mod: Buffer): string {
  // cmd/go frames modinfo with 16-byte start/end markers (the end marker is preceded by '\n').
  if (mod.length >= 33 && mod[mod.length - 17] === 0x0a) return mod.toString('utf8', 16, mod.length - 16);
  return '';
}

function uvarint(b: Buffer, at: number): { value: number; next: number } | undefined {
  let x = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    x += (b[i] & 0x7f) * mul;
    if (b[i] < 0x80) return { value: x, next: i + 1 };
    mul *= 128;
  }
  return undefined;
}

/**
 * Decodes inline (Go >= 1.18) build info from bytes starting at the header. Returns the total number
 * of bytes needed when `b` is too short, null when this is not build info.
 */
export function decodeInlineBuildInfo(b: Buffer): GoBuildInfo | number | null {
  if (b.length < HEADER_SIZE + 10) return HEADER_SIZE + 10;
  const v = uvarint(b, HEADER_SIZE);
  if (!v || v.value === 0 || v.value > MAX_INFO_BYTES) return null;
  if (v.next + v.value + 10 > b.length) return v.next + v.value + 10;
  const goVersion = b.toString('utf8', v.next, v.next + v.value);
  const m = uvarint(b, v.next + v.value);
  if (!m || m.value > MAX_INFO_BYTES) return null;
  if (m.next + m.value > b.length) return m.next + m.value;
  return parseModInfo(goVersion, stripSentinels(b.subarray(m.next, m.next + m.value)));
}

/** `go1.19.8` -> `1.19.8` (what vulnerability data calls the standard library's version). */
export function stdlibVersion(goVersion: string): string {
  const m = /^go(\d+(?:\.\d+)*(?:(?:rc|beta)\d+)?)/.exec(goVersion.trim());
  return m ? m[1] : goVersion.trim();
}

/** The packages a Go binary's build info lists: the standard library, the main module, the deps. */
export function packagesFromBuildInfo(info: GoBuildInfo): FoundPackage[] {
  const out: FoundPackage[] = [{ name: 'stdlib', version: stdlibVersion(info.goVersion), kind: 'binary', ecosystem: 'go' }];
  if (info.main) out.push({ name: info.main.path, version: info.main.version, kind: 'binary', ecosystem: 'go' });
  else if (info.path) out.push({ name: info.path, version: '', kind: 'binary', ecosystem: 'go' }); // GOPATH build: no module version
  for (const d of info.deps) {
    // A replacement with a version is what was compiled in; a local directory replacement keeps the original name.
    const eff = d.replace && d.replace.version ? d.replace : d;
    out.push({ name: eff.path, version: eff.version, kind: 'binary', ecosystem: 'go' });
  }
  return out;
}

interface Load {
  off: number;
  vaddr: number;
  filesz: number;
  flags: number;
}
interface Elf {
  is64: boolean;
  le: boolean;
  loads: Load[];
  goNote: boolean;
}

const PT_LOAD = 1;
const PT_NOTE = 4;
const PF_X = 1;
const PF_W = 2;

/** Parses the ELF header and program headers from the first bytes of a file; null if not ELF (or not parseable from the head). */
export function parseElfHead(head: Buffer): Elf | null {
  if (head.length < 52 || head.readUInt32BE(0) !== 0x7f454c46) return null;
  const is64 = head[4] === 2;
  const le = head[5] === 1;
  const u16 = (o: number) => (le ? head.readUInt16LE(o) : head.readUInt16BE(o));
  const u32 = (o: number) => (le ? head.readUInt32LE(o) : head.readUInt32BE(o));
  const u64 = (o: number) => Number(le ? head.readBigUInt64LE(o) : head.readBigUInt64BE(o));
  const phoff = is64 ? u64(0x20) : u32(0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  if (phentsize < (is64 ? 56 : 32) || phoff + phnum * phentsize > head.length) return null;
  const loads: Load[] = [];
  let goNote = false;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = u32(p);
    const off = is64 ? u64(p + 8) : u32(p + 4);
    const vaddr = is64 ? u64(p + 16) : u32(p + 8);
    const filesz = is64 ? u64(p + 32) : u32(p + 16);
    const flags = is64 ? u32(p + 4) : u32(p + 24);
    if (type === PT_LOAD) loads.push({ off, vaddr, filesz, flags });
    if (type === PT_NOTE && off + filesz <= head.length) {
      let q = off;
      while (q + 12 <= off + filesz) {
        const namesz = u32(q);
        const descsz = u32(q + 4);
        const ntype = u32(q + 8);
        const name = head.toString('latin1', q + 12, q + 12 + namesz);
        if (ntype === 4 && name === 'Go\0\0') goNote = true;
        q += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
      }
    }
  }
  return { is64, le, loads, goNote };
}

/** File ranges to search for the header: writable non-executable load segments (all of the file if none). */
function searchRanges(elf: Elf, size: number): Array<[number, number]> {
  const w = elf.loads.filter((l) => (l.flags & (PF_X | PF_W)) === PF_W && l.filesz > 0);
  return w.length ? w.map((l) => [l.off, l.off + l.filesz] as [number, number]) : [[0, size]];
}

class GoBinarySink implements StreamSink {
  private pos = 0;
  private head: Buffer[] = [];
  private headLen = 0;
  private elf: Elf | null | undefined; // undefined: not decided yet
  private ranges: Array<[number, number]> = [];
  private carry = Buffer.alloc(0);
  private carryAt = 0; // file offset of carry[0]
  private found: Buffer[] | undefined; // bytes from the header on
  private foundLen = 0;
  private need = 0;
  private foundAt = 0;
  private result: GoBuildInfo | undefined;
  private pointerHeader: Buffer | undefined;
  private spool: FileHandle | undefined;
  private spoolFile: string | undefined;
  private spoolRanges: Array<[number, number]> = [];
  private small: Buffer | undefined; // the whole file, when it fit in the head window

  constructor(
    private readonly info: EntryInfo,
    private readonly ctx: ScanContext,
  ) {}

  private get done(): boolean {
    return this.elf === null || this.result !== undefined;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.done && !this.spool) {
      this.pos += chunk.length;
      return;
    }
    if (this.elf === undefined) {
      this.head.push(chunk);
      this.headLen += chunk.length;
      if (this.headLen < HEAD_BYTES && this.pos + chunk.length < this.info.size) {
        this.pos += chunk.length;
        return;
      }
      const head = Buffer.concat(this.head);
      this.head = [];
      this.elf = parseElfHead(head);
      if (!this.elf) {
        this.pos += chunk.length;
        return;
      }
      if (head.length >= this.info.size) this.small = head;
      this.ranges = searchRanges(this.elf, this.info.size);
      this.spoolRanges = this.elf.loads.filter((l) => (l.flags & PF_X) === 0 && l.filesz > 0).map((l) => [l.off, l.off + l.filesz]);
      if (this.elf.goNote && this.info.size <= this.ctx.maxBytes && this.ctx.tmpDir) {
        this.spoolFile = path.join(this.ctx.tmpDir, `go-${process.pid}-${Math.random().toString(36).slice(2)}`);
        this.spool = await open(this.spoolFile, 'w', 0o600);
      }
      // Re-process the whole head as one chunk from offset 0.
      this.pos = 0;
      chunk = head;
    }
    if (this.spool) {
      // Only non-executable segments can hold what the pointer format points at (string headers in
      // data, string bytes in read-only data): the text segment, often half the file, is not kept.
      for (const [start, end] of this.spoolRanges) {
        const s = Math.max(start, this.pos);
        const e = Math.min(end, this.pos + chunk.length);
        if (s < e) await this.spool.write(chunk, s - this.pos, e - s, s);
      }
    }
    if (!this.done) this.look(chunk, this.pos);
    this.pos += chunk.length;
    if (this.result !== undefined && this.spool) await this.dropSpool();
  }

  private look(chunk: Buffer, at: number): void {
    if (this.found) {
      this.found.push(chunk);
      this.foundLen += chunk.length;
      if (this.foundLen >= this.need) this.tryDecode();
      return;
    }
    for (const [start, end] of this.ranges) {
      const s = Math.max(start, at);
      const e = Math.min(end, at + chunk.length);
      if (s >= e) continue;
      let buf = chunk.subarray(s - at, e - at);
      let base = s;
      if (this.carry.length && this.carryAt + this.carry.length === s) {
        buf = Buffer.concat([this.carry, buf]);
        base = this.carryAt;
      }
      let from = 0;
      for (;;) {
        const i = buf.indexOf(MAGIC, from);
        if (i < 0) break;
        if ((base + i) % 16 === 0) {
          // Keep everything from the header on (past the range end too: the strings follow it).
          const first = Buffer.from(buf.subarray(i));
          const rest = chunk.subarray(e - at);
          this.found = rest.length ? [first, Buffer.from(rest)] : [first];
          this.foundLen = first.length + rest.length;
          this.foundAt = base + i;
          this.need = HEADER_SIZE;
          this.carry = Buffer.alloc(0);
          if (this.foundLen >= this.need) this.tryDecode();
          return;
        }
        from = i + 1;
      }
      const keep = Math.min(buf.length, MAGIC.length - 1);
      this.carry = Buffer.from(buf.subarray(buf.length - keep));
      this.carryAt = base + buf.length - keep;
    }
  }

  private tryDecode(final = false): void {
    const b = Buffer.concat(this.found!, this.foundLen);
    this.found = [b];
    const ptrSize = b[14];
    const flags = b[15];
    if (ptrSize !== 4 && ptrSize !== 8) {
      this.notBuildInfo(b);
      return;
    }
    if (flags & 2) {
      const r = decodeInlineBuildInfo(b);
      if (r === null || (typeof r === 'number' && final)) {
        this.notBuildInfo(b);
        return;
      }
      if (typeof r === 'number') {
        this.need = r;
        return;
      }
      this.result = r;
      this.found = undefined;
      return;
    }
    // Pointer format: needs random access, done at the end from the spool.
    this.pointerHeader = Buffer.from(b.subarray(0, HEADER_SIZE));
    this.found = undefined;
    this.ranges = [];
  }

  private notBuildInfo(b: Buffer): void {
    // Not a real header after all: search on past it.
    const at = this.foundAt;
    this.found = undefined;
    this.foundLen = 0;
    this.look(b.subarray(1), at + 1);
  }

  private async dropSpool(): Promise<void> {
    const fh = this.spool;
    this.spool = undefined;
    await fh?.close().catch(() => {});
    if (this.spoolFile) await unlink(this.spoolFile).catch(() => {});
  }

  async end(): Promise<{ packages: FoundPackage[] } | undefined> {
    try {
      let head = this.small;
      if (this.elf === undefined) {
        // A file smaller than the head window: decide now, with all of it in memory.
        head = Buffer.concat(this.head);
        this.head = [];
        this.elf = parseElfHead(head);
        if (this.elf) {
          this.ranges = searchRanges(this.elf, head.length);
          this.look(head, 0);
        }
      }
      if (this.found && this.result === undefined) this.tryDecode(true);
      let info = this.result;
      if (!info && this.pointerHeader && this.elf) {
        const inMemory = head;
        const fh = this.spool;
        if (inMemory) {
          info = await readPointerBuildInfo(this.elf, this.pointerHeader, async (o, n) => inMemory.subarray(o, o + n));
        } else if (fh && this.pos >= this.info.size) {
          info = await readPointerBuildInfo(this.elf, this.pointerHeader, async (o, n) => {
            const buf = Buffer.alloc(n);
            const { bytesRead } = await fh.read(buf, 0, n, o);
            return buf.subarray(0, bytesRead);
          });
        } else {
          this.ctx.warn(
            `Go binary with pre-1.18 build info not read (${this.info.size > this.ctx.maxBytes ? `larger than the ${this.ctx.maxBytes} byte cap` : 'no Go build ID note, so it was not spooled'})`,
          );
        }
      }
      return info ? { packages: packagesFromBuildInfo(info) } : undefined;
    } finally {
      await this.dropSpool();
    }
  }

  async abort(): Promise<void> {
    await this.dropSpool();
  }
}

type ReadAt = (offset: number, length: number) => Promise<Buffer>;

/** Resolves the pre-1.18 pointer-format header through the ELF load segments. */
async function readPointerBuildInfo(elf: Elf, header: Buffer, readAt: ReadAt): Promise<GoBuildInfo | undefined> {
  const ptrSize = header[14];
  const big = (header[15] & 1) !== 0;
  const ptr = (b: Buffer, o: number) =>
    ptrSize === 8 ? Number(big ? b.readBigUInt64BE(o) : b.readBigUInt64LE(o)) : big ? b.readUInt32BE(o) : b.readUInt32LE(o);
  const readVA = async (va: number, n: number): Promise<Buffer | undefined> => {
    const seg = elf.loads.find((l) => va >= l.vaddr && va + n <= l.vaddr + l.filesz);
    if (!seg) return undefined;
    const b = await readAt(seg.off + (va - seg.vaddr), n);
    return b.length === n ? b : undefined;
  };
  const readString = async (va: number): Promise<Buffer | undefined> => {
    const hdr = await readVA(va, ptrSize * 2);
    if (!hdr) return undefined;
    const dataVA = ptr(hdr, 0);
    const len = ptr(hdr, ptrSize);
    if (len === 0) return Buffer.alloc(0);
    if (len > MAX_INFO_BYTES) return undefined;
    return readVA(dataVA, len);
  };
  const vers = await readString(ptr(header, 16));
  if (!vers || vers.length === 0) return undefined;
  const mod = await readString(ptr(header, 16 + ptrSize));
  return parseModInfo(vers.toString('utf8'), mod ? stripSentinels(mod) : '');
}

export const goBinaryScanner: StreamScanner = {
  name: 'go-binary',
  version: 1,
  kind: 'package',
  input: 'stream',
  // Spool cap for pre-1.18 binaries (newer ones are read in passing at any size).
  maxBytes: 256 * 1024 * 1024,
  // Any executable regular file big enough to be a Go program; non-ELF files are dropped after the first bytes.
  claims: (_p, info) =>
    info.size >= MIN_GO_BINARY && (info.mode & 0o111) !== 0 && (info.type === 'file' || info.type === 'contiguous-file'),
  open: (info, ctx) => new GoBinarySink(info, ctx),
};
