// The indexer: layers in, distribution and packages out.
//
// `scanners` below is the one list of plug-ins. Adding an ecosystem is one file (a Scanner, see
// ./types.ts) and one line here.
//
// indexLayers reads the layers of one image, base layer first, each at most once: a layer whose
// result the caller already has (opts.cache, keyed by layer digest) is not opened at all, and every
// fresh result is handed back for the caller to store. The layered view (whiteouts, replaced files,
// which layer introduced a package) is then computed from the per-layer results.
import type { Readable } from 'node:stream';
import { readLayer, LayerFormatError, type ReadLayerOptions } from './layer-reader.js';
import { mergeLayers } from './whiteouts.js';
import type { Distribution, LayerResult, Package, Scanner } from './types.js';
import { osReleaseScanner } from './os-release.js';
import { dpkgScanner } from './dpkg.js';
import { apkScanner } from './apk.js';
import { rpmScanner } from './rpm.js';
import { pythonScanner } from './python.js';
import { npmScanner } from './npm.js';
import { goBinaryScanner } from './go-binary.js';
import { javaScanner } from './java.js';

export const scanners: readonly Scanner[] = [
  osReleaseScanner,
  dpkgScanner,
  apkScanner,
  rpmScanner,
  pythonScanner,
  npmScanner,
  goBinaryScanner,
  javaScanner,
];

/** Where the caller keeps per-layer results (the database, in Berth). */
export interface LayerCache {
  get(digest: string): LayerResult | undefined | Promise<LayerResult | undefined>;
  set(digest: string, result: LayerResult): void | Promise<void>;
}

export interface IndexOptions extends Omit<ReadLayerOptions, 'digest'> {
  /** Layer digests, same order as the layers: the cache key. */
  digests?: readonly string[];
  cache?: LayerCache;
  /** The scanners to run (default: all of them). */
  scanners?: readonly Scanner[];
}

export interface IndexReport {
  distribution?: Distribution;
  packages: Package[];
  /** One result per layer, base first (cached or fresh). */
  perLayer: LayerResult[];
  /** How many layers were actually read (not served from the cache). */
  layersRead: number;
}

/** True when a stored layer result was produced by exactly the scanners (and versions) in use now. */
export function isCurrent(result: LayerResult, list: readonly Scanner[] = scanners): boolean {
  const want = Object.fromEntries(list.map((s) => [s.name, s.version]));
  const have = result.scanners ?? {};
  const keys = Object.keys(want);
  return keys.length === Object.keys(have).length && keys.every((k) => have[k] === want[k]);
}

/**
 * Indexes one image's layers (base first). Each layer is opened only when its result is not cached.
 * Throws LayerFormatError (with the layer's position and digest) when a layer is not a readable tar.
 * A layer with nothing recognisable yields an empty result; deciding that an image is "unsupported"
 * (nothing found at all) is the caller's call.
 */
export async function indexLayers(layers: ReadonlyArray<() => Readable>, opts: IndexOptions = {}): Promise<IndexReport> {
  const list = opts.scanners ?? scanners;
  const perLayer: LayerResult[] = [];
  let layersRead = 0;
  for (let i = 0; i < layers.length; i++) {
    const digest = opts.digests?.[i];
    if (digest && opts.cache) {
      const hit = await opts.cache.get(digest);
      if (hit && isCurrent(hit, list)) {
        perLayer.push(hit);
        continue;
      }
    }
    let result: LayerResult;
    try {
      result = await readLayer(layers[i](), list, { ...opts, ...(digest ? { digest } : {}) });
    } catch (err) {
      if (err instanceof LayerFormatError) {
        throw new LayerFormatError(`layer ${i}${digest ? ` (${digest})` : ''}: ${err.message}`, { cause: err.cause });
      }
      throw err;
    }
    layersRead++;
    if (digest && opts.cache) await opts.cache.set(digest, result);
    perLayer.push(result);
  }
  return { ...mergeLayers(perLayer), perLayer, layersRead };
}

export { readLayer, LayerFormatError, normaliseEntryPath } from './layer-reader.js';
export { mergeLayers, LayeredView } from './whiteouts.js';
export type * from './types.js';
