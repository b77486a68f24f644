// Builds container images byte by byte for tests (tar layers, gzip/zstd, config, manifests,
// indexes), writes them as an OCI image layout (`oci:DIR:TAG`) or a containers/image directory
// (`dir:DIR`, the only local format that carries Docker schema 2 manifests and manifest lists
// unchanged), and reads both back so tests can compare what a client pulled with what was built.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { runOk } from './exec.ts';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerTar: 'application/vnd.oci.image.layer.v1.tar',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export type ImageFormat = 'oci' | 'docker';
export type Compression = 'gzip' | 'zstd' | 'none';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { architecture: string; os: string; variant?: string };
  annotations?: Record<string, string>;
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

// ---------------------------------------------------------------- tar

/** Files of a layer: path (no leading slash) to content. Parent directories are added. */
export type LayerFiles = Record<string, string | Buffer>;

const MTIME = 1_700_000_000; // fixed, so layers are reproducible

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function tarHeader(name: string, size: number, type: '0' | '5', mode: number): Buffer {
  const h = Buffer.alloc(512);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(name.slice(cut + 1)) > 100) throw new Error(`tar name too long: ${name}`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  h.write(base, 0, 100, 'utf8');
  h.write(octal(mode, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(MTIME, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum placeholder
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write('root', 265, 'ascii');
  h.write('root', 297, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** A POSIX ustar archive of the files (sorted, with their parent directories). */
export function tar(files: LayerFiles): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const name of Object.keys(files).sort()) {
    const segs = name.split('/');
    for (let i = 1; i < segs.length; i++) {
      const dir = segs.slice(0, i).join('/') + '/';
      if (!dirs.has(dir)) {
        dirs.add(dir);
        parts.push(tarHeader(dir, 0, '5', 0o755));
      }
    }
    const data = Buffer.from(files[name]);
    parts.push(tarHeader(name, data.length, '0', 0o644), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString('utf8');
}

/**
 * The regular files of a tar archive (ustar, GNU long names, PAX path records), path
 * without leading "./" or "/". Later entries win, as when a layer is extracted.
 */
export function untar(buf: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  let off = 0;
  let longName: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(cstring(h.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 0x30);
    let name = cstring(h.subarray(0, 100));
    const prefix = h.subarray(257, 262).toString('ascii') === 'ustar' ? cstring(h.subarray(345, 500)) : '';
    if (prefix) name = `${prefix}/${name}`;
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = cstring(data);
      continue;
    }
    if (type === 'x') {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) longName = m[1];
      continue;
    }
    if (type === 'g') continue;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    name = name.replace(/^(\.\/|\/)+/, '');
    if (type === '0' || type === '\0' || type === '7') files.set(name, Buffer.from(data));
  }
  return files;
}

// ---------------------------------------------------------------- compression

export async function compress(data: Buffer, how: Compression): Promise<Buffer> {
  if (how === 'none') return data;
  if (how === 'gzip') return gzipSync(data, { level: 6 });
  return (await runOk('zstd', ['-q', '-c', '-3', '--no-progress'], { input: data })).stdoutBytes;
}

export function compressionOf(blob: Buffer): Compression {
  if (blob.length < 4) return 'none';
  if (blob[0] === 0x1f && blob[1] === 0x8b) return 'gzip';
  if (blob.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Decompresses a layer blob, whichever of gzip, zstd or nothing it is (by its magic bytes). */
export async function decompress(blob: Buffer): Promise<Buffer> {
  const c = compressionOf(blob);
  if (c === 'gzip') return gunzipSync(blob);
  if (c === 'zstd') return (await runOk('zstd', ['-q', '-d', '-c'], { input: blob })).stdoutBytes;
  return blob;
}

/** The regular files inside a (compressed) layer blob. */
export async function layerFiles(blob: Buffer): Promise<Map<string, Buffer>> {
  return untar(await decompress(blob));
}

// ---------------------------------------------------------------- images

export interface ImageSpec {
  format: ImageFormat;
  /** One entry per layer. */
  layers: LayerFiles[];
  compression?: Compression;
  architecture?: string;
  os?: string;
  env?: string[];
  cmd?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface BuiltLayer {
  descriptor: Descriptor;
  blob: Buffer;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
  files: LayerFiles;
}

export interface BuiltImage {
  kind: 'image';
  format: ImageFormat;
  mediaType: string;
  manifest: Buffer;
  descriptor: Descriptor;
  config: Buffer;
  configDescriptor: Descriptor;
  layers: BuiltLayer[];
  architecture: string;
  os: string;
  /** Every blob this image needs (config and layers), by digest. */
  blobs: Map<string, Buffer>;
}

export interface BuiltIndex {
  kind: 'index';
  format: ImageFormat;
  mediaType: string;
  manifest: Buffer;
  descriptor: Descriptor;
  images: BuiltImage[];
  blobs: Map<string, Buffer>;
}

export type Built = BuiltImage | BuiltIndex;

export async function buildImage(spec: ImageSpec): Promise<BuiltImage> {
  const compression = spec.compression ?? 'gzip';
  if (spec.format === 'docker' && compression !== 'gzip') throw new Error('Docker schema 2 layers are gzip only');
  const architecture = spec.architecture ?? 'amd64';
  const os = spec.os ?? 'linux';
  const layerMediaType =
    spec.format === 'docker'
      ? MEDIA.dockerLayerGzip
      : { gzip: MEDIA.ociLayerGzip, zstd: MEDIA.ociLayerZstd, none: MEDIA.ociLayerTar }[compression];
  const blobs = new Map<string, Buffer>();
  const layers: BuiltLayer[] = [];
  for (const files of spec.layers) {
    const raw = tar(files);
    const blob = await compress(raw, compression);
    const descriptor: Descriptor = { mediaType: layerMediaType, digest: sha256(blob), size: blob.length };
    blobs.set(descriptor.digest, blob);
    layers.push({ descriptor, blob, diffId: sha256(raw), files });
  }
  const configDoc = {
    created: '2024-01-02T03:04:05Z',
    architecture,
    os,
    config: {
      Env: spec.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: spec.cmd ?? ['/bin/app'],
      Labels: spec.labels ?? {},
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((_, i) => ({ created: '2024-01-02T03:04:05Z', created_by: `berth test layer ${i}` })),
  };
  const config = Buffer.from(JSON.stringify(configDoc));
  const configDescriptor: Descriptor = {
    mediaType: spec.format === 'docker' ? MEDIA.dockerConfig : MEDIA.ociConfig,
    digest: sha256(config),
    size: config.length,
  };
  blobs.set(configDescriptor.digest, config);
  const mediaType = spec.format === 'docker' ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const manifestDoc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
  };
  if (spec.annotations && spec.format === 'oci') manifestDoc.annotations = spec.annotations;
  // Indented on purpose: the registry must keep these exact bytes, not re-serialize them.
  const manifest = Buffer.from(JSON.stringify(manifestDoc, null, 3) + '\n');
  return {
    kind: 'image',
    format: spec.format,
    mediaType,
    manifest,
    descriptor: { mediaType, digest: sha256(manifest), size: manifest.length, platform: { architecture, os } },
    config,
    configDescriptor,
    layers,
    architecture,
    os,
    blobs,
  };
}

/** A Docker manifest list or OCI image index over the images (each with its platform). */
export function buildIndex(format: ImageFormat, images: BuiltImage[], annotations?: Record<string, string>): BuiltIndex {
  const mediaType = format === 'docker' ? MEDIA.dockerList : MEDIA.ociIndex;
  for (const img of images) if (img.format !== format) throw new Error(`a ${format} index cannot hold a ${img.format} image`);
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((i) => i.descriptor),
  };
  if (annotations && format === 'oci') doc.annotations = annotations;
  const manifest = Buffer.from(JSON.stringify(doc, null, 2));
  const blobs = new Map<string, Buffer>();
  for (const img of images) for (const [d, b] of img.blobs) blobs.set(d, b);
  return {
    kind: 'index',
    format,
    mediaType,
    manifest,
    descriptor: { mediaType, digest: sha256(manifest), size: manifest.length },
    images,
    blobs,
  };
}

// ---------------------------------------------------------------- OCI image layout

function blobPath(dir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(dir, 'blobs', alg, hex);
}

/**
 * Writes (or adds to) an OCI image layout: oci-layout, index.json and blobs/sha256/*, with
 * each entry of `refs` tagged through org.opencontainers.image.ref.name.
 * Use as `oci:DIR:TAG`.
 */
export function writeOciLayout(dir: string, refs: Record<string, Built>): void {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexFile = path.join(dir, 'index.json');
  const index: { schemaVersion: 2; mediaType?: string; manifests: Descriptor[] } = existsSync(indexFile)
    ? JSON.parse(readFileSync(indexFile, 'utf8'))
    : { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
  const put = (digest: string, data: Buffer) => writeFileSync(blobPath(dir, digest), data);
  for (const [tag, built] of Object.entries(refs)) {
    if (built.format !== 'oci') throw new Error('an OCI layout holds OCI manifests only; use writeDirLayout for Docker ones');
    for (const [d, b] of built.blobs) put(d, b);
    put(built.descriptor.digest, built.manifest);
    if (built.kind === 'index') for (const img of built.images) put(img.descriptor.digest, img.manifest);
    index.manifests = index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== tag);
    const { platform: _platform, ...desc } = built.descriptor;
    index.manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': tag } });
  }
  writeFileSync(indexFile, JSON.stringify(index));
}

export interface LayoutReader {
  /** The top-level manifest bytes (image manifest, index or list). */
  manifest: Buffer;
  mediaType: string;
  digest: string;
  /** The manifest of one instance of an index, by digest. */
  instance(digest: string): Buffer;
  blob(digest: string): Buffer;
  has(digest: string): boolean;
}

/** Reads the manifest tagged `tag` (or the only one) from an OCI image layout. */
export function readOciLayout(dir: string, tag?: string): LayoutReader {
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: Descriptor[] };
  const entries =
    tag === undefined ? index.manifests : index.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (entries.length !== 1)
    throw new Error(`${dir}: expected one manifest for ${tag ?? '(any tag)'}, index.json has ${JSON.stringify(index.manifests)}`);
  const top = entries[0];
  const blob = (d: string) => readFileSync(blobPath(dir, d));
  return {
    manifest: blob(top.digest),
    mediaType: top.mediaType,
    digest: top.digest,
    instance: blob,
    blob,
    has: (d) => existsSync(blobPath(dir, d)),
  };
}

// ---------------------------------------------------------------- containers/image dir: transport

/**
 * Writes a containers/image `dir:` directory: manifest.json (exact bytes), one file per blob
 * named by its hex digest and, for an index, `<hex>.manifest.json` per instance. Unlike an
 * OCI layout it carries Docker schema 2 manifests and manifest lists. Use as `dir:DIR`.
 */
export function writeDirLayout(dir: string, built: Built): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  writeFileSync(path.join(dir, 'manifest.json'), built.manifest);
  for (const [d, b] of built.blobs) writeFileSync(path.join(dir, d.split(':')[1]), b);
  if (built.kind === 'index') {
    for (const img of built.images) writeFileSync(path.join(dir, `${img.descriptor.digest.split(':')[1]}.manifest.json`), img.manifest);
  }
}

/** Reads a `dir:` directory written by skopeo (or writeDirLayout). */
export function readDirLayout(dir: string): LayoutReader {
  const manifest = readFileSync(path.join(dir, 'manifest.json'));
  const doc = JSON.parse(manifest.toString('utf8')) as { mediaType?: string };
  return {
    manifest,
    mediaType: doc.mediaType ?? '',
    digest: sha256(manifest),
    instance: (d) => readFileSync(path.join(dir, `${d.split(':')[1]}.manifest.json`)),
    blob: (d) => readFileSync(path.join(dir, d.split(':')[1])),
    has: (d) => existsSync(path.join(dir, d.split(':')[1])),
  };
}

/** Names of the files in a directory (for assertion messages). */
export function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
