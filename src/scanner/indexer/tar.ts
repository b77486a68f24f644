// A pull parser for tar archives that hands out entry headers and body pieces without copying.
//
// The layer reader wants a few files out of a layer of thousands and drains the rest, so the parser
// is a plain object, not a stream per entry: push() the decompressed chunks in, call next() until it
// says it needs more input. next() returns an entry's header, then (unless skip() was called) its
// body as subarrays of the pushed chunks, then the next header. Skipped bodies are only counted past.
//
// What it accepts and how it reads headers follows tar-stream 3 (which the reader used before, with
// allowUnknownFormat), so a layer gives the same entries either way: ustar, GNU and pre-POSIX (v7)
// headers with verified checksums; the ustar prefix field; PAX extended headers (path, linkpath,
// size; global headers merged into the next per-file ones); GNU long names and long link names;
// base-256 numbers; all-zero blocks (the end-of-archive marker) are passed over wherever they are;
// a directory entry never has a body. The error messages are tar-stream's too.

export interface TarHeader {
  /** The name as stored (PAX `path`, GNU long name or ustar prefix + name), not normalised. */
  name: string;
  size: number;
  mode: number;
  /** 'file', 'link', 'symlink', 'character-device', 'block-device', 'directory', 'fifo', 'contiguous-file'; null for other type flags. */
  type: string | null;
  linkname: string | null;
}

/** The bytes are not a readable tar archive. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;
const MAX_LONG_HEADER = 4 * 1024 * 1024;
const USTAR = Buffer.from('ustar\0', 'latin1');
const TYPES: Record<number, string> = {
  0: 'file',
  1: 'link',
  2: 'symlink',
  3: 'character-device',
  4: 'block-device',
  5: 'directory',
  6: 'fifo',
  7: 'contiguous-file',
  72: 'pax-header',
  55: 'pax-global-header',
  27: 'gnu-long-link-path',
  28: 'gnu-long-path',
  30: 'gnu-long-path',
};

const padding = (size: number) => (size % BLOCK ? BLOCK - (size % BLOCK) : 0);

export class TarParser {
  private readonly queue: Buffer[] = [];
  private readonly scratch = Buffer.allocUnsafe(BLOCK);
  /** Read position in queue[0]. */
  private offset = 0;
  private buffered = 0;
  /** Body bytes of the current entry not yet handed out (or skipped). */
  private body = 0;
  private skipping = false;
  /** Padding after the current body (or long header) still to pass over. */
  private pad = 0;
  /** A PAX or GNU long header whose data is being waited for. */
  private long: { type: string; size: number } | undefined;
  private gnuPath: string | undefined;
  private gnuLinkPath: string | undefined;
  private pax: Record<string, string> | undefined;
  private paxGlobal: Record<string, string> | undefined;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.buffered += chunk.length;
  }

  /** The current entry's body has been handed out (or skipped) in full. */
  get bodyDone(): boolean {
    return this.body === 0;
  }

  /** Pass over the rest of the current entry's body instead of returning it. */
  skip(): void {
    this.skipping = true;
  }

  /**
   * The next header, or the next piece of the current entry's body (a subarray of a pushed chunk:
   * valid until the caller lets go of it, never reused); undefined when more input is needed.
   * Throws TarFormatError on a bad header.
   */
  next(): TarHeader | Buffer | undefined {
    for (;;) {
      if (this.body > 0) {
        if (this.buffered === 0) return undefined;
        if (this.skipping) {
          this.body -= this.drop(this.body);
          continue;
        }
        const piece = this.take(this.body);
        this.body -= piece.length;
        return piece;
      }
      if (this.pad > 0) {
        if (this.buffered === 0) return undefined;
        this.pad -= this.drop(this.pad);
        continue;
      }
      if (this.long) {
        if (this.buffered < this.long.size) return undefined;
        this.readLong(this.long.type, this.read(this.long.size));
        this.pad = padding(this.long.size);
        this.long = undefined;
        continue;
      }
      if (this.buffered < BLOCK) return undefined;
      const h = this.header();
      if (h === null) continue; // an all-zero block
      switch (h.type) {
        case 'gnu-long-path':
        case 'gnu-long-link-path':
        case 'pax-global-header':
        case 'pax-header':
          if (!(h.size >= 0)) throw new TarFormatError('Invalid header');
          if (h.size > MAX_LONG_HEADER) throw new TarFormatError('Header exceeds max size');
          this.long = { type: h.type, size: h.size };
          continue;
      }
      this.applyLongHeaders(h);
      if (!(h.size >= 0)) throw new TarFormatError('Invalid header');
      this.skipping = false;
      if (h.size > 0 && h.type !== 'directory') {
        this.body = h.size;
        this.pad = padding(h.size);
      }
      return h;
    }
  }

  /** The input has ended: throws unless it ended exactly after a whole entry. */
  end(): void {
    if (this.body > 0 || this.pad > 0 || this.long || this.buffered > 0) throw new TarFormatError('Unexpected end of data');
  }

  /** Decodes the next 512-byte block where it lies (or from a scratch copy when it spans chunks). */
  private header(): TarHeader | null {
    const first = this.queue[0];
    if (first.length - this.offset >= BLOCK) {
      const h = decodeHeader(first, this.offset);
      this.drop(BLOCK);
      return h;
    }
    let at = 0;
    while (at < BLOCK) {
      const p = this.take(BLOCK - at);
      p.copy(this.scratch, at);
      at += p.length;
    }
    return decodeHeader(this.scratch, 0);
  }

  /** Passes over up to n bytes at the front (at most the rest of the first chunk); returns how many. */
  private drop(n: number): number {
    const rest = this.queue[0].length - this.offset;
    if (n >= rest) {
      this.queue.shift();
      this.offset = 0;
      this.buffered -= rest;
      return rest;
    }
    this.offset += n;
    this.buffered -= n;
    return n;
  }

  /** Up to n bytes from the front, without copying (at most the rest of the first chunk). */
  private take(n: number): Buffer {
    const first = this.queue[0];
    const rest = first.length - this.offset;
    let piece: Buffer;
    if (n >= rest) {
      piece = this.offset ? first.subarray(this.offset) : first;
      this.queue.shift();
      this.offset = 0;
    } else {
      piece = first.subarray(this.offset, this.offset + n);
      this.offset += n;
    }
    this.buffered -= piece.length;
    return piece;
  }

  /** Exactly n buffered bytes, copied together only when they span chunks. */
  private read(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const piece = this.take(n);
    if (piece.length === n) return piece;
    const out = Buffer.allocUnsafe(n);
    piece.copy(out, 0);
    let at = piece.length;
    while (at < n) {
      const p = this.take(n - at);
      p.copy(out, at);
      at += p.length;
    }
    return out;
  }

  private readLong(type: string, data: Buffer): void {
    switch (type) {
      case 'gnu-long-path':
        this.gnuPath = decodeStr(data, 0, data.length);
        break;
      case 'gnu-long-link-path':
        this.gnuLinkPath = decodeStr(data, 0, data.length);
        break;
      case 'pax-global-header':
        this.paxGlobal = decodePax(data);
        break;
      case 'pax-header':
        this.pax = this.paxGlobal ? { ...this.paxGlobal, ...decodePax(data) } : decodePax(data);
        break;
    }
  }

  private applyLongHeaders(h: TarHeader): void {
    if (this.gnuPath !== undefined) {
      h.name = this.gnuPath;
      this.gnuPath = undefined;
    }
    if (this.gnuLinkPath !== undefined) {
      h.linkname = this.gnuLinkPath;
      this.gnuLinkPath = undefined;
    }
    if (this.pax) {
      if (this.pax.path) h.name = this.pax.path;
      if (this.pax.linkpath) h.linkname = this.pax.linkpath;
      if (this.pax.size) h.size = parseInt(this.pax.size, 10);
      this.pax = undefined;
    }
  }
}

/** The 512-byte header at b[o]; null for an all-zero block. */
function decodeHeader(b: Buffer, o: number): TarHeader | null {
  // The checksum field counts as eight spaces; four sums side by side run faster than one.
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0;
  for (let i = o, end = o + 148; i < end; i += 4) {
    s0 += b[i];
    s1 += b[i + 1];
    s2 += b[i + 2];
    s3 += b[i + 3];
  }
  for (let i = o + 156, end = o + BLOCK; i < end; i += 4) {
    s0 += b[i];
    s1 += b[i + 1];
    s2 += b[i + 2];
    s3 += b[i + 3];
  }
  const sum = 8 * 32 + s0 + s1 + s2 + s3;
  if (sum === 8 * 32) return null;
  if (sum !== decodeOct(b, o + 148, 8))
    throw new TarFormatError('Invalid tar header. Maybe the tar is corrupted or it needs to be gunzipped?');

  let flag = b[o + 156] === 0 ? 0 : b[o + 156] - 0x30;
  let name = decodeStr(b, o, 100);
  // ustar: the prefix field; GNU and v7 headers have none.
  if (b[o + 345] && isUstar(b, o)) name = `${decodeStr(b, o + 345, 155)}/${name}`;
  // Old tars mark directories with a trailing slash only.
  if (flag === 0 && name.endsWith('/')) flag = 5;
  return {
    name,
    size: decodeOct(b, o + 124, 12),
    mode: decodeOct(b, o + 100, 8),
    type: TYPES[flag] ?? null,
    linkname: b[o + 157] === 0 ? null : decodeStr(b, o + 157, 100),
  };
}

/** The magic field says `ustar\0` (POSIX; GNU's is `ustar ` and v7 has none). */
function isUstar(b: Buffer, o: number): boolean {
  for (let i = 0; i < 6; i++) if (b[o + 257 + i] !== USTAR[i]) return false;
  return true;
}

/** A NUL-terminated UTF-8 field. */
function decodeStr(b: Buffer, start: number, length: number): string {
  let end = start;
  const limit = start + length;
  while (end < limit && b[end] !== 0) end++;
  return b.toString('utf8', start, end);
}

/** A numeric field: base-256 when the high bit is set, else octal text (leading spaces and NULs allowed). */
function decodeOct(b: Buffer, start: number, length: number): number {
  const limit = start + length;
  if (b[start] & 0x80) return parse256(b.subarray(start, limit));
  let at = start;
  while (at < limit && b[at] === 0x20) at++;
  let end = at;
  while (end < limit && b[end] !== 0x20) end++;
  while (at < end && b[at] === 0) at++;
  if (at === end) return 0;
  // Octal digits up to the first other byte, as parseInt(text, 8) reads them.
  if (b[at] >= 0x30 && b[at] <= 0x37) {
    let v = 0;
    for (let i = at; i < end && b[i] >= 0x30 && b[i] <= 0x37; i++) v = v * 8 + (b[i] - 0x30);
    return v;
  }
  return parseInt(b.toString('utf8', at, end), 8);
}

/** A base-256 number (0x80: positive, 0xff: two's complement); 0 for any other lead byte (tar-stream's null). */
function parse256(b: Buffer): number {
  let positive: boolean;
  if (b[0] === 0x80) positive = true;
  else if (b[0] === 0xff) positive = false;
  else return 0;
  let sum = 0;
  for (let i = b.length - 1, mul = 1; i > 0; i--, mul *= 256) sum += (positive ? b[i] : 0xff - b[i]) * mul;
  return positive ? sum : -sum;
}

function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 0x20) i++;
    const len = parseInt(buf.toString('utf8', 0, i), 10);
    if (!len) return out;
    const rec = buf.toString('utf8', i + 1, len - 1);
    const eq = rec.indexOf('=');
    if (eq === -1) return out;
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    buf = buf.subarray(len);
  }
  return out;
}
