// Java archives (jar, war, ear and Jenkins' jpi/hpi): every META-INF/maven/<group>/<artifact>/pom.properties
// inside names a Maven artifact (shaded jars carry several). Without any, the manifest's
// Bundle-SymbolicName / Implementation-Title and Implementation-Version / Bundle-Version are used,
// and last the file name (`name-1.2.3.jar`). Archives nested one level deep (Spring Boot's
// BOOT-INF/lib, WEB-INF/lib, an ear's modules) are opened from memory, each capped.
//
// A zip's directory is at its end, so the archive is read whole before it is opened: in memory up
// to IN_MEMORY_BYTES, else spooled to a temp file by the layer reader. yauzl reading a file costs a
// read(2) per directory entry, so a jar of 2,000 classes cost ~2,000 system calls; an image with a
// few hundred jars spent most of its index time there.
import { createRequire } from 'node:module';
import type Yauzl from 'yauzl';

// yauzl is loaded by the first archive read, not by every server start.
const load = createRequire(import.meta.url);
const yauzl = new Proxy({} as typeof Yauzl, { get: (_t, k) => (load('yauzl') as Record<PropertyKey, unknown>)[k] });
import type { FileScanner, FoundPackage } from './types.js';
import { parseHeaderBlock } from './util.js';

const ARCHIVE = /\.(?:jar|war|ear|jpi|hpi)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const SMALL_FILE_CAP = 1024 * 1024;
const NESTED_CAP = 64 * 1024 * 1024;
const IN_MEMORY_BYTES = 16 * 1024 * 1024;

/** Java .properties: `key=value`, `key: value` or `key value`; `#`/`!` comments. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line[0] === '#' || line[0] === '!') continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (m && !out.has(m[1])) out.set(m[1], m[2].trim());
  }
  return out;
}

async function readEntry(zip: Yauzl.ZipFile, entry: Yauzl.Entry, cap: number): Promise<Buffer> {
  if (entry.uncompressedSize > cap) throw new Error(`${entry.fileName}: larger than ${cap} bytes`);
  const s = await zip.openReadStreamPromise(entry);
  const chunks: Buffer[] = [];
  let len = 0;
  for await (const c of s as AsyncIterable<Buffer>) {
    len += c.length;
    if (len > cap) {
      s.destroy();
      throw new Error(`${entry.fileName}: larger than ${cap} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks, len);
}

function fromManifest(mf: string): { name: string; version: string } | undefined {
  const h = parseHeaderBlock(mf, ''); // manifest lines wrap at 72 bytes; continuations join without a break
  const name = (h.get('Bundle-SymbolicName') ?? '').split(';')[0].trim() || h.get('Implementation-Title')?.trim();
  const version = h.get('Implementation-Version')?.trim() || h.get('Bundle-Version')?.trim();
  return name && version ? { name, version } : undefined;
}

function fromFileName(p: string): { name: string; version: string } | undefined {
  const base = p.slice(p.lastIndexOf('/') + 1).replace(ARCHIVE, '');
  const m = /^(.+?)-(\d[\w.+-]*)$/.exec(base);
  return m ? { name: m[1], version: m[2] } : undefined;
}

/** Scans one opened archive; `where` is its display path (outer path, or `outer!/inner` when nested). */
async function scanZip(zip: Yauzl.ZipFile, where: string, nested: boolean, warn: (m: string) => void): Promise<FoundPackage[]> {
  const own: FoundPackage[] = [];
  const inner: FoundPackage[] = [];
  let manifest: string | undefined;
  try {
    for await (const entry of zip.eachEntry()) {
      const name = entry.fileName;
      if (name.endsWith('/')) continue;
      try {
        if (POM_PROPERTIES.test(name)) {
          const props = parseProperties((await readEntry(zip, entry, SMALL_FILE_CAP)).toString('utf8'));
          const g = props.get('groupId');
          const a = props.get('artifactId');
          const v = props.get('version');
          if (g && a && v)
            own.push({ name: `${g}:${a}`, version: v, kind: 'binary', ecosystem: 'maven', ...(nested ? { path: where } : {}) });
        } else if (name.toUpperCase() === 'META-INF/MANIFEST.MF') {
          manifest = (await readEntry(zip, entry, SMALL_FILE_CAP)).toString('utf8');
        } else if (!nested && ARCHIVE.test(name)) {
          const buf = await readEntry(zip, entry, NESTED_CAP);
          const sub = await yauzl.fromBufferPromise(buf, { lazyEntries: true });
          inner.push(...(await scanZip(sub, `${where}!/${name}`, true, warn)));
        }
      } catch (err) {
        warn(`${where}: ${(err as Error).message}`);
      }
    }
  } finally {
    zip.close();
  }
  if (own.length === 0) {
    const guess = (manifest ? fromManifest(manifest) : undefined) ?? fromFileName(where);
    if (guess) own.push({ ...guess, kind: 'binary', ecosystem: 'maven', ...(nested ? { path: where } : {}) });
  }
  return [...own, ...inner];
}

export const javaScanner: FileScanner = {
  name: 'java',
  version: 1,
  kind: 'package',
  input: 'file',
  maxBytes: 512 * 1024 * 1024,
  claims: (p) => ARCHIVE.test(p),
  inMemoryBytes: IN_MEMORY_BYTES,
  async scan(file, info, ctx) {
    const zip = await yauzl.openPromise(file, { lazyEntries: true, autoClose: false });
    return { packages: await scanZip(zip, info.path, false, ctx.warn) };
  },
  async scanBuffer(data, info, ctx) {
    const zip = await yauzl.fromBufferPromise(data, { lazyEntries: true });
    return { packages: await scanZip(zip, info.path, false, ctx.warn) };
  },
};
