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

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The manifest bytes as text: strict UTF-8 (no invalid, overlong or surrogate sequences), no byte order mark. */
function manifestText(bytes: Uint8Array): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
    throw invalid('manifest starts with a byte order mark: send plain UTF-8 JSON');
  try {
    return UTF8.decode(bytes);
  } catch {
    throw invalid('manifest is not valid UTF-8');
  }
}

/**
 * Parses manifest bytes sent with `contentType` (the Content-Type of the PUT). As in CNCF distribution the
 * Content-Type names the manifest's type: it must be one of the manifest media types, a mediaType in the
 * document must be that same type (an empty one is an error, not an absence), and the document must have
 * that type's shape. A document without mediaType (as Helm writes them) takes the Content-Type's.
 */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(manifestText(bytes));
  } catch (e) {
    if (e instanceof RegistryError) throw e;
    throw invalid(`manifest is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw invalid('manifest must be a JSON object');
  const ct = bareMediaType(contentType);
  const declared = doc.mediaType;
  if (declared !== undefined && typeof declared !== 'string') throw invalid('mediaType must be a string');
  if (declared === '') throw invalid('mediaType must not be empty: name the manifest media type or leave the field out');
  for (const t of [ct, declared]) {
    if (t === MT.dockerSchema1 || t === MT.dockerSchema1Signed) {
      throw new RegistryError('MANIFEST_INVALID', 'Docker schema 1 manifests are not supported; push with schema 2 or OCI', {
        mediaType: t,
      });
    }
  }
  if (!ct) {
    throw invalid(`a manifest PUT needs a Content-Type naming the manifest media type (one of ${MANIFEST_MEDIA_TYPES.join(', ')})`);
  }
  if (!MANIFEST_MEDIA_TYPES.includes(ct)) {
    throw invalid(`Content-Type "${ct.slice(0, 200)}" is not a manifest media type (expected one of ${MANIFEST_MEDIA_TYPES.join(', ')})`, {
      contentType: ct.slice(0, 200),
    });
  }
  if (declared !== undefined && declared !== ct) {
    if (!MANIFEST_MEDIA_TYPES.includes(declared)) {
      throw invalid(`unsupported manifest mediaType "${declared.slice(0, 200)}" (expected one of ${MANIFEST_MEDIA_TYPES.join(', ')})`, {
        mediaType: declared.slice(0, 200),
      });
    }
    throw invalid(`Content-Type "${ct}" does not match the manifest mediaType "${declared}"`, { mediaType: declared, contentType: ct });
  }
  const mediaType = ct;
  if (isIndexType(mediaType) && (doc.config !== undefined || doc.layers !== undefined)) {
    throw invalid(
      `the document has "config" or "layers", which an index (${mediaType}) does not: send it with the image manifest's Content-Type`,
    );
  }
  if (!isIndexType(mediaType) && doc.manifests !== undefined) {
    throw invalid(`the document has "manifests", which an image manifest (${mediaType}) does not: send it with the index's Content-Type`);
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
