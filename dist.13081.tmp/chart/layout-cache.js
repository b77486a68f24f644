import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { ChartError } from "./errors.js";
import { sha256 } from "./registry-client.js";
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const REF_NAME = "org.opencontainers.image.ref.name";
function defaultCacheDir(env = process.env) {
  const cacheHome = env.HELM_CACHE_HOME ?? path.join(env.XDG_CACHE_HOME || path.join(env.HOME || homedir(), ".cache"), "helm");
  return path.join(cacheHome, "registry", "cache");
}
class LayoutCache {
  constructor(root) {
    this.root = root;
  }
  root;
  init() {
    mkdirSync(path.join(this.root, "blobs", "sha256"), { recursive: true });
    const layout = path.join(this.root, "oci-layout");
    if (!existsSync(layout)) writeFileSync(layout, JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  }
  blobPath(digest) {
    const [alg, hex] = digest.split(":");
    return path.join(this.root, "blobs", alg, hex);
  }
  /** Stores a blob by its digest (kept when present); returns its descriptor. */
  putBlob(mediaType, data) {
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
  getBlob(digest) {
    try {
      return readFileSync(this.blobPath(digest));
    } catch {
      throw new ChartError(`the local chart cache ${this.root} is missing blob ${digest}: save or pull the chart again`);
    }
  }
  /** When a blob was written (Helm shows the content layer's time as CREATED). */
  blobTime(digest) {
    try {
      return statSync(this.blobPath(digest)).mtime;
    } catch {
      return /* @__PURE__ */ new Date();
    }
  }
  index() {
    try {
      const doc = JSON.parse(readFileSync(path.join(this.root, "index.json"), "utf8"));
      return { schemaVersion: 2, manifests: doc.manifests ?? [] };
    } catch {
      return { schemaVersion: 2, manifests: [] };
    }
  }
  saveIndex(manifests) {
    this.init();
    const p = path.join(this.root, "index.json");
    writeFileSync(`${p}.tmp`, JSON.stringify({ schemaVersion: 2, manifests }));
    renameSync(`${p}.tmp`, p);
  }
  /** Points a reference (host/repo:tag) at a manifest descriptor, replacing an earlier one. */
  addReference(name, desc) {
    const list = this.index().manifests.filter((d) => d.annotations?.[REF_NAME] !== name);
    list.push({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: { [REF_NAME]: name } });
    this.saveIndex(list);
  }
  removeReference(name) {
    const all = this.index().manifests;
    const list = all.filter((d) => d.annotations?.[REF_NAME] !== name);
    if (list.length === all.length) return false;
    this.saveIndex(list);
    return true;
  }
  find(name) {
    return this.index().manifests.find((d) => d.annotations?.[REF_NAME] === name);
  }
  references() {
    return this.index().manifests.filter((d) => d.annotations?.[REF_NAME]).map((d) => ({ name: d.annotations[REF_NAME], desc: d }));
  }
  manifest(desc) {
    return JSON.parse(this.getBlob(desc.digest).toString("utf8"));
  }
}
export {
  LayoutCache,
  OCI_MANIFEST,
  defaultCacheDir
};
//# sourceMappingURL=layout-cache.js.map
