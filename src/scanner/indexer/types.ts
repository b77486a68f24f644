// The indexer's vocabulary: what a scanner plug-in is, what it finds, and what a layer yields.
//
// Shape borrowed from claircore: a scanner is a tiny plug-in with one job (read one kind of file and
// say which packages or which distribution it describes), and all scanners sit in one list
// (./index.ts). The layer reader owns every byte of I/O; a scanner only declares which paths it
// wants, how big a file it is willing to look at, and how it wants the bytes (a buffer, a temp
// file, or a stream of chunks it inspects as they pass by).
//
// Everything a layer yields (LayerResult) is plain JSON and depends on nothing but the layer's bytes
// and the scanner versions, so a caller can store it keyed by layer digest and never read that
// layer again. Positions in an image (layer index, whiteouts from upper layers) are applied later,
// by ./whiteouts.ts, when the layers of one manifest are put together.

export type Ecosystem = 'deb' | 'apk' | 'rpm' | 'pypi' | 'npm' | 'go' | 'maven';

/** A package as one layer's file describes it (no position in an image yet). */
export interface FoundPackage {
  name: string;
  /** Version as the ecosystem writes it ('' when the file does not say). */
  version: string;
  kind: 'binary' | 'source';
  ecosystem: Ecosystem;
  /** The source package a binary package was built from (deb, apk origin, rpm SOURCERPM). */
  source?: { name: string; version: string };
  arch?: string;
  /**
   * Where it was found when that differs from the scanned file itself (a jar nested in a jar:
   * `app.jar!/BOOT-INF/lib/x.jar`). Defaults to the scanned file's path.
   */
  path?: string;
}

/** A package in the layered view of an image. */
export interface Package extends FoundPackage {
  /** The file it was found in (the package database for OS packages). */
  path: string;
  /** The lowest layer (0 = base) from which this package is continuously present. */
  layerIndex: number;
}

/** What os-release says, keys named as in os-release(5) and in Clair's Distribution JSON. */
export interface Distribution {
  id: string;
  name?: string;
  version?: string;
  version_id?: string;
  version_codename?: string;
  pretty_name?: string;
  cpe?: string;
}

/** What a scanner says about one file. */
export interface Finding {
  packages?: FoundPackage[];
  distribution?: Distribution;
}

/** The tar header facts a scanner may look at to decide whether it wants an entry. */
export interface EntryInfo {
  /** Normalised path: relative, no `./`, no `..`, no trailing slash. */
  path: string;
  size: number;
  mode: number;
  /** The tar entry type (./tar.ts, tar-stream's names): 'file', 'symlink', 'link', 'directory', … */
  type: string;
}

export interface ScanContext {
  /** A private directory for temp files, removed when the layer is done. */
  tmpDir: string;
  /** The size cap in force for this scanner (its maxBytes unless the caller overrode it). */
  maxBytes: number;
  warn(message: string): void;
}

interface ScannerBase {
  /** Unique, stable name; also the key of the caller's size-limit overrides. */
  readonly name: string;
  /** Bump when the scanner's output for the same bytes changes: cached layer results are then redone. */
  readonly version: number;
  readonly kind: 'package' | 'distribution';
  /** Largest file this scanner will read (buffer and file input); larger ones are skipped with a warning. */
  readonly maxBytes: number;
  /** Path predicate: true when this scanner wants the entry. Must be cheap: it runs for every entry. */
  claims(path: string, info: EntryInfo): boolean;
}

/** Gets the whole (small) file in memory. */
export interface BufferScanner extends ScannerBase {
  readonly input: 'buffer';
  scan(data: Buffer, info: EntryInfo, ctx: ScanContext): Finding | undefined | Promise<Finding | undefined>;
}

/** Gets the file spooled to a temp file (for formats that need random access: SQLite, zip). */
export interface FileScanner extends ScannerBase {
  readonly input: 'file';
  scan(file: string, info: EntryInfo, ctx: ScanContext): Finding | undefined | Promise<Finding | undefined>;
  /**
   * Optional: files of at most `inMemoryBytes` are handed over in memory instead, with no temp file
   * (for formats whose reader costs a system call per record when it reads a file: zip).
   */
  readonly inMemoryBytes?: number;
  scanBuffer?(data: Buffer, info: EntryInfo, ctx: ScanContext): Finding | undefined | Promise<Finding | undefined>;
}

/** Sees the file's chunks as they stream past (for big files where only a small part matters). */
export interface StreamScanner extends ScannerBase {
  readonly input: 'stream';
  open(info: EntryInfo, ctx: ScanContext): StreamSink;
}

export interface StreamSink {
  /** Called with every chunk in order; may return a promise to slow the reader down. */
  write(chunk: Buffer): void | Promise<void>;
  /** After the last chunk. `undefined`: nothing of interest (nothing is recorded for the file). */
  end(): Promise<Finding | undefined>;
  /** The layer failed mid-file: release whatever the sink holds. */
  abort(): Promise<void>;
}

export type Scanner = BufferScanner | FileScanner | StreamScanner;

/** What one scanner made of one file of a layer. */
export interface FileResult {
  path: string;
  scanner: string;
  packages: FoundPackage[];
  distribution?: Distribution;
  /** Set when the file was present but not read: too large, not a regular file, unparseable. */
  skipped?: string;
}

/** Everything one layer yields: cacheable by layer digest. */
export interface LayerResult {
  digest?: string;
  /** name -> version of the scanners that produced this result (a changed list means: read again). */
  scanners: Record<string, number>;
  compression: 'gzip' | 'zstd' | 'none';
  /** Tar entries seen, and uncompressed tar bytes read. */
  entries: number;
  bytes: number;
  files: FileResult[];
  /** Paths this layer deletes from the layers below it (`.wh.<name>`). */
  whiteouts: string[];
  /** Directories whose contents from the layers below are hidden (`.wh..wh..opq`); '' is the root. */
  opaqueDirs: string[];
  warnings: string[];
}
