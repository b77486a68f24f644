// The layered view of an image: which files of which layer are still there once every layer above
// it is applied, following the OCI image spec's rules for changesets:
//
// - a later entry at the same path replaces the earlier one;
// - `.wh.<name>` in a layer deletes `<name>` (and, for a directory, everything under it) from the
//   layers below; it never hides what its own layer adds;
// - `.wh..wh..opq` in a directory hides everything the layers below put in that directory, and keeps
//   what its own layer puts there.
//
// Layers are read on their own (and cached by digest), so each LayerResult only lists the whiteouts
// it carries; this module is where they take effect, and where packages get their layer index.
import type { Distribution, FileResult, LayerResult, Package } from './types.js';

/** The layer changeset facts the view needs (a LayerResult has them). */
export interface LayerChanges<T> {
  whiteouts: readonly string[];
  opaqueDirs: readonly string[];
  /** Path -> value for what this layer adds; later layers replace earlier ones. */
  entries: Iterable<readonly [string, T]>;
}

export interface Visible<T> {
  layerIndex: number;
  value: T;
}

/** A path-keyed map that layers are applied to, bottom (base) layer first. */
export class LayeredView<T> {
  private readonly live = new Map<string, Visible<T>>();
  private layers = 0;

  /**
   * Applies the next layer. `onReplace(path, lower, upper)` is called when the layer replaces a
   * value that was still visible (not when a whiteout removed it first).
   */
  apply(changes: LayerChanges<T>, onReplace?: (path: string, lower: Visible<T>, upper: Visible<T>) => void): void {
    const layerIndex = this.layers++;
    // Whiteouts and opaque directories act on the layers below only, so they go first.
    // Checked per visible path through its ancestors (O(paths x depth), not paths x whiteouts).
    const gone = new Set(changes.whiteouts);
    const opaque = new Set(changes.opaqueDirs);
    if (gone.size || opaque.size) {
      for (const p of [...this.live.keys()]) {
        if (gone.has(p) || opaque.has('')) {
          this.live.delete(p);
          continue;
        }
        for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
          const dir = p.slice(0, i);
          if (gone.has(dir) || opaque.has(dir)) {
            this.live.delete(p);
            break;
          }
        }
      }
    }
    for (const [p, value] of changes.entries) {
      const upper = { layerIndex, value };
      const lower = this.live.get(p);
      if (lower && lower.layerIndex < layerIndex && onReplace) onReplace(p, lower, upper);
      this.live.delete(p);
      this.live.set(p, upper);
    }
  }

  get(p: string): Visible<T> | undefined {
    return this.live.get(p);
  }
  has(p: string): boolean {
    return this.live.has(p);
  }
  entries(): IterableIterator<[string, Visible<T>]> {
    return this.live.entries();
  }
  get size(): number {
    return this.live.size;
  }
}

export interface MergedIndex {
  distribution?: Distribution;
  packages: Package[];
}

function pkgKey(p: { ecosystem: string; name: string; version: string; arch?: string; kind: string; path?: string }): string {
  return `${p.ecosystem}\0${p.kind}\0${p.name}\0${p.version}\0${p.arch ?? ''}\0${p.path ?? ''}`;
}

/** Preference for where the distribution is read from: etc/os-release overrides usr/lib/os-release. */
const OS_RELEASE_PATHS = ['etc/os-release', 'usr/lib/os-release'];

/**
 * Puts per-layer results (base layer first) together: only files still visible at the top count.
 * A package's layerIndex is the lowest layer from which the same package (same name, version, arch)
 * has been continuously present in the same file: an unchanged package in a package database that a
 * later layer rewrites keeps the layer that introduced it.
 */
export function mergeLayers(perLayer: readonly LayerResult[]): MergedIndex {
  interface Slot {
    files: FileResult[];
    introduced: Map<string, number>;
  }
  const view = new LayeredView<Slot>();
  perLayer.forEach((layer, i) => {
    const byPath = new Map<string, Slot>();
    for (const f of layer.files) {
      let slot = byPath.get(f.path);
      if (!slot) {
        slot = { files: [], introduced: new Map() };
        byPath.set(f.path, slot);
      }
      slot.files.push(f);
      for (const pkg of f.packages) slot.introduced.set(`${f.scanner}\0${pkgKey(pkg)}`, i);
    }
    view.apply({ whiteouts: layer.whiteouts, opaqueDirs: layer.opaqueDirs, entries: byPath }, (_p, lower, upper) => {
      for (const f of upper.value.files) {
        for (const pkg of f.packages) {
          const k = `${f.scanner}\0${pkgKey(pkg)}`;
          const was = lower.value.introduced.get(k);
          if (was !== undefined) upper.value.introduced.set(k, was);
        }
      }
    });
  });

  const packages: Package[] = [];
  for (const [p, { layerIndex, value }] of view.entries()) {
    for (const f of value.files) {
      for (const pkg of f.packages) {
        const at = value.introduced.get(`${f.scanner}\0${pkgKey(pkg)}`) ?? layerIndex;
        packages.push({ ...pkg, path: pkg.path ?? p, layerIndex: at });
      }
    }
  }
  packages.sort((a, b) => a.layerIndex - b.layerIndex);

  let distribution: Distribution | undefined;
  for (const p of OS_RELEASE_PATHS) {
    const v = view.get(p);
    const d = v?.value.files.find((f) => f.distribution)?.distribution;
    if (d) {
      distribution = d;
      break;
    }
  }
  return { ...(distribution ? { distribution } : {}), packages };
}
