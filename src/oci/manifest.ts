// Parsing and validation of image manifests and indexes (pure, no I/O).
import { RegistryError } from './errors.js';
import { parseDigest } from './digest.js';
import { MT, MANIFEST_MEDIA_TYPES, isIndexType, bareMediaType } from './mediatypes.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: Record<string, unknown>;
}

export interface ParsedManifest {
  mediaType: string;
  /** True for image indexes and manifest lists. */
  isIndex: boolean;
  config?: Descriptor;
  layers: Descriptor[];
  /** Child manifests of an index. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string, detail?: unknown): RegistryError {
  return new RegistryError('MANIFEST_INVALID', message, detail);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) {
    throw invalid(`${where} must be an object of string values`);
  }
  return v as Record<string, string>;
}

function descriptor(v: unknown, where: string): Descriptor {
  if (!isObject(v)) throw invalid(`${where} must be a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$/.test(mediaType)) {
    throw invalid(`${where}.mediaType must be a media type string`);
  }
  if (typeof digest !== 'string' || !parseDigest(digest)) {
    throw new RegistryError('DIGEST_INVALID', `${where}.digest is not a valid digest`, { digest });
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw invalid(`${where}.size must be a non-negative integer`);
  }
  const d: Descriptor = { mediaType, digest, size };
  if (v.artifactType !== undefined) {
    if (typeof v.artifactType !== 'string') throw invalid(`${where}.artifactType must be a string`);
    d.artifactType = v.artifactType;
  }
  const annotations = stringMap(v.annotations, `${where}.annotations`);
  if (annotations) d.annotations = annotations;
  if (v.platform !== undefined) {
    if (!isObject(v.platform)) throw invalid(`${where}.platform must be an object`);
    d.platform = v.platform;
  }
  return d;
}

function descriptorList(v: unknown, where: string): Descriptor[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw invalid(`${where} must be an array`);
  return v.map((x, i) => descriptor(x, `${where}[${i}]`));
}

/**
 * Parses manifest bytes. `contentType` is the Content-Type of the PUT; when the
 * document has no mediaType (as Helm writes them), the Content-Type decides.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  const ct = bareMediaType(contentType);
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  let mediaType = declared as string | undefined;
  if (!mediaType) {
    if (MANIFEST_MEDIA_TYPES.includes(ct)) mediaType = ct;
    else if (Array.isArray(doc.manifests)) mediaType = MT.ociIndex;
    else mediaType = MT.ociManifest;
  }
  if (mediaType === MT.dockerSchema1 || mediaType === MT.dockerSchema1Signed) {
    throw new RegistryError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported; push with schema 2 or OCI', { mediaType });
  }
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw invalid(`unsupported manifest mediaType "${mediaType}" (expected one of ${MANIFEST_MEDIA_TYPES.join(', ')})`, { mediaType });
  }
  if (ct && ct !== mediaType && MANIFEST_MEDIA_TYPES.includes(ct)) {
    throw invalid(`Content-Type "${ct}" does not match the manifest mediaType "${mediaType}"`, { mediaType, contentType: ct });
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  const annotations = stringMap(doc.annotations, 'annotations');
  if (doc.artifactType !== undefined && typeof doc.artifactType !== 'string') throw invalid('artifactType must be a string');
  const subject = doc.subject === undefined ? undefined : descriptor(doc.subject, 'subject');
  const result: ParsedManifest = {
    mediaType,
    isIndex: isIndexType(mediaType),
    layers: [],
    manifests: [],
    subject,
    artifactType: doc.artifactType as string | undefined,
    annotations,
  };
  if (result.isIndex) {
    if (!Array.isArray(doc.manifests)) throw invalid('an index must have a "manifests" array');
    result.manifests = descriptorList(doc.manifests, 'manifests');
  } else {
    result.config = descriptor(doc.config, 'config');
    result.layers = descriptorList(doc.layers, 'layers');
  }
  return result;
}

/** The artifactType a referrers response reports for a manifest. */
export function effectiveArtifactType(m: ParsedManifest): string | undefined {
  if (m.artifactType) return m.artifactType;
  if (!m.isIndex && m.config) return m.config.mediaType;
  return undefined;
}
