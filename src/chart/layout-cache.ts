// Helm 3.5's local chart cache: an OCI image layout (oci-layout, index.json, blobs/sha256/…) whose
// index.json names each manifest by its full reference in org.opencontainers.image.ref.name.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { ChartError } from './errors.js';
import { sha256 } from './registry-client.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
export interface OciManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** $HELM_CACHE_HOME/registry/cache, else $XDG_CACHE_HOME/helm/registry/cache, else ~/.cache/helm/registry/cache */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.HELM_CACHE_HOME ?? path.join(env.XDG_CACHE_HOME || path.join(env.HOME || homedir(), '.cache'), 'helm');
  return path.join(cacheHome, 'registry', 'cache');
}

export class LayoutCache {
  constructor(readonly root: string) {}

  private init(): void {
    mkdirSync(path.join(this.root, 'blobs', 'sha256'), { recursive: true });
    const layout = path.join(this.root, 'oci-layout');
    if (!existsSync(layout)) writeFileSync(layout, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    return path.join(this.root, 'blobs', alg, hex);
  }

  /** Stores a blob by its digest (kept when present); returns its descriptor. */
  putBlob(mediaType: string, data: Buffer): Descriptor {
    this.init();
    const digest = sha256(data);
    const p = this.blobPath(digest);
    if (!existsSync(p)) {
      const tmp = `${p}.${process.pid}.tmp`;
      writeFileSync(tmp, data);
      renameSync(tmp, p);
    }
    return { mediaType, digest, size: data.length };
  }

  getBlob(digest: string): Buffer {
    try {
      return readFileSync(this.blobPath(digest));
    } catch {
      throw new ChartError(`the local chart cache ${this.root} is missing blob ${digest}: save or pull the chart again`);
    }
  }

  /** When a blob was written (Helm shows the content layer's time as CREATED). */
  blobTime(digest: string): Date {
    try {
      return statSync(this.blobPath(digest)).mtime;
    } catch {
      return new Date();
    }
  }

  index(): { schemaVersion: number; manifests: Descriptor[] } {
    try {
      const doc = JSON.parse(readFileSync(path.join(this.root, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
      return { schemaVersion: 2, manifests: doc.manifests ?? [] };
    } catch {
      return { schemaVersion: 2, manifests: [] };
    }
  }

  private saveIndex(manifests: Descriptor[]): void {
    this.init();
    const p = path.join(this.root, 'index.json');
    writeFileSync(`${p}.tmp`, JSON.stringify({ schemaVersion: 2, manifests }));
    renameSync(`${p}.tmp`, p);
  }

  /** Points a reference (host/repo:tag) at a manifest descriptor, replacing an earlier one. */
  addReference(name: string, desc: Descriptor): void {
    const list = this.index().manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
    list.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { [REF_NAME]: name } });
    this.saveIndex(list);
  }

  removeReference(name: string): boolean {
    const all = this.index().manifests;
    const list = all.filter((d) => d.annotations?.[REF_NAME] !== name);
    if (list.length === all.length) return false;
    this.saveIndex(list);
    return true;
  }

  find(name: string): Descriptor | undefined {
    return this.index().manifests.find((d) => d.annotations?.[REF_NAME] === name);
  }

  references(): { name: string; desc: Descriptor }[] {
    return this.index()
      .manifests.filter((d) => d.annotations?.[REF_NAME])
      .map((d) => ({ name: d.annotations![REF_NAME], desc: d }));
  }

  manifest(desc: Descriptor): OciManifest {
    return JSON.parse(this.getBlob(desc.digest).toString('utf8')) as OciManifest;
  }
}
