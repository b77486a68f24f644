// Charts on disk and in archives, as Helm's loader and chartutil.Save/SaveDir handle them:
// load a chart directory (honouring .helmignore), load a .tgz, package (`helm package`), export (SaveDir).
import { lstatSync, mkdirSync, readdirSync, readFileSync, type Stats, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { ChartError } from './errors.js';
import { chartYaml, goYaml, metadataFrom, validateMetadata, type ChartMetadata } from './metadata.js';

export interface ChartFile {
  name: string;
  data: Buffer;
}
export interface Chart {
  metadata: ChartMetadata;
  /** Chart.lock (apiVersion v2), decoded. */
  lock?: Record<string, unknown>;
  values?: Buffer;
  schema?: Buffer;
  templates: ChartFile[];
  files: ChartFile[];
  dependencies: Chart[];
}

// ------------------------------------------------------------------ .helmignore (Helm's pkg/ignore)

interface IgnoreRule {
  negate: boolean;
  mustDir: boolean;
  match: (p: string) => boolean;
}

/** Go's filepath.Match pattern as a regular expression (* and ? never match "/"). */
function globToRegex(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) throw new ChartError(`.helmignore: syntax error in pattern "${glob}"`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith('^')) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function parseHelmignore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  const add = (line: string) => {
    let rule = line.trim();
    if (rule === '' || rule.startsWith('#')) return;
    if (rule.includes('**')) throw new ChartError(`.helmignore: double-star (**) syntax is not supported: ${rule}`);
    let negate = false;
    let mustDir = false;
    if (rule.startsWith('!')) {
      negate = true;
      rule = rule.slice(1);
    }
    if (rule.endsWith('/')) {
      mustDir = true;
      rule = rule.slice(0, -1);
    }
    if (rule.startsWith('/')) {
      const re = globToRegex(rule.slice(1));
      rules.push({ negate, mustDir, match: (p) => re.test(p) });
    } else if (rule.includes('/')) {
      const re = globToRegex(rule);
      rules.push({ negate, mustDir, match: (p) => re.test(p) });
    } else {
      const re = globToRegex(rule);
      rules.push({ negate, mustDir, match: (p) => re.test(p.slice(p.lastIndexOf('/') + 1)) });
    }
  };
  for (const line of text.split(/\r?\n/)) add(line);
  add('templates/.?*'); // Helm's default rule
  return rules;
}

function ignored(rules: IgnoreRule[], p: string, isDir: boolean): boolean {
  if (p === '' || p === '.' || p === './') return false;
  for (const r of rules) {
    if (r.negate) {
      if (r.mustDir && !isDir) return true;
      if (!r.match(p)) return true;
      continue;
    }
    if (r.mustDir && !isDir) continue;
    if (r.match(p)) return true;
  }
  return false;
}

// ------------------------------------------------------------------ loading

/** Reads a chart directory the way `helm package` does (lexical walk, .helmignore, symlinks followed). */
export function loadChartDir(dir: string): Chart {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch {
    throw new ChartError(`path "${dir}" not found`);
  }
  if (!st.isDirectory()) {
    if (/\.t(ar\.)?gz$/.test(dir)) return loadChartArchive(readFileSync(dir));
    throw new ChartError(`${dir} is not a chart directory (or .tgz)`);
  }
  const ignoreFile = path.join(dir, '.helmignore');
  const rules = parseHelmignore(existsFile(ignoreFile) ? readFileSync(ignoreFile, 'utf8') : '');
  const files: ChartFile[] = [];
  const walk = (abs: string, rel: string) => {
    for (const name of readdirSync(abs).sort()) {
      const a = path.join(abs, name);
      const r = rel ? `${rel}/${name}` : name;
      const s = statSync(a);
      if (s.isDirectory()) {
        if (!ignored(rules, r, true)) walk(a, r);
        continue;
      }
      if (ignored(rules, r, false)) continue;
      if (!s.isFile()) throw new ChartError(`cannot load irregular file ${a} as it has file mode type bits set`);
      files.push({ name: r, data: readFileSync(a) });
    }
  };
  walk(path.resolve(dir), '');
  if (!files.some((f) => f.name === 'Chart.yaml')) throw new ChartError(`${dir}: Chart.yaml file is missing (is this a chart directory?)`);
  return loadFiles(files);
}

function existsFile(p: string): boolean {
  try {
    return lstatSync(p).isFile() || statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Helm's LoadFiles: sorts the files of a chart into metadata, values, templates, files and subcharts. */
export function loadFiles(files: ChartFile[]): Chart {
  let metadata: ChartMetadata | undefined;
  const c: Omit<Chart, 'metadata'> = { templates: [], files: [], dependencies: [] };
  const sub = new Map<string, ChartFile[]>();
  for (const f of files) {
    if (f.name === 'Chart.yaml') {
      const raw = parseYamlObject(f.data, 'Chart.yaml');
      metadata = metadataFrom(raw);
      if (!metadata.apiVersion) metadata.apiVersion = 'v1';
    } else if (f.name === 'Chart.lock') {
      c.lock = parseYamlObject(f.data, 'Chart.lock');
    } else if (f.name === 'values.yaml') {
      c.values = f.data;
    } else if (f.name === 'values.schema.json') {
      c.schema = f.data;
    } else if (f.name.startsWith('templates/')) {
      c.templates.push(f);
    } else if (f.name.startsWith('charts/')) {
      if (f.name.endsWith('.prov')) {
        c.files.push(f);
        continue;
      }
      const rest = f.name.slice('charts/'.length);
      const cname = rest.split('/')[0];
      if (!sub.has(cname)) sub.set(cname, []);
      sub.get(cname)!.push({ name: rest, data: f.data });
    } else {
      c.files.push(f);
    }
  }
  if (!metadata) throw new ChartError('validation: chart.metadata is required (Chart.yaml is missing)');
  const chart: Chart = { metadata: validateMetadata(metadata), ...c };
  // Helm iterates a Go map here (random order); sorted by name is deterministic.
  for (const cname of [...sub.keys()].sort()) {
    const list = sub.get(cname)!;
    if (list.length === 1 && list[0].name === cname && /\.t(ar\.)?gz$/.test(cname)) {
      chart.dependencies.push(loadChartArchive(list[0].data));
    } else {
      const inner = list.filter((f) => f.name.startsWith(`${cname}/`)).map((f) => ({ name: f.name.slice(cname.length + 1), data: f.data }));
      if (inner.some((f) => f.name === 'Chart.yaml')) chart.dependencies.push(loadFiles(inner));
      else chart.files.push(...list.map((f) => ({ name: `charts/${f.name}`, data: f.data })));
    }
  }
  return chart;
}

function parseYamlObject(data: Buffer, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(data.toString('utf8'));
  } catch (e) {
    throw new ChartError(`cannot load ${what}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ChartError(`cannot load ${what}: it must be a mapping of keys`);
  return doc as Record<string, unknown>;
}

/** Loads a chart archive (.tgz); the first path component (the chart name) is dropped. */
export function loadChartArchive(tgz: Buffer): Chart {
  return loadFiles(readArchiveFilesSync(tgz));
}

/** A synchronous reader for the ustar/pax archives charts come in. */
export function readArchiveFilesSync(tgz: Buffer): ChartFile[] {
  let buf: Buffer;
  try {
    buf = gunzipSync(tgz);
  } catch {
    throw new ChartError('the chart archive is not gzip-compressed (expected a .tgz made by helm package)');
  }
  const files: ChartFile[] = [];
  let off = 0;
  let paxName: string | undefined;
  let gnuLong: string | undefined;
  const field = (o: number, n: number) =>
    buf
      .subarray(o, o + n)
      .toString('utf8')
      .replace(/\0.*$/s, '');
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(field(off + 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const prefix = field(off + 345, 155);
    let name = field(off, 100);
    if (prefix && h.subarray(257, 262).toString() === 'ustar') name = `${prefix}/${name}`;
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString('utf8'));
      if (m) paxName = m[1];
      continue;
    }
    if (type === 'L') {
      gnuLong = data.toString('utf8').replace(/\0.*$/s, '');
      continue;
    }
    if (type === 'g') continue;
    name = paxName ?? gnuLong ?? name;
    paxName = undefined;
    gnuLong = undefined;
    if (type !== '0' && type !== '7') continue;
    const parts = name.replace(/\\/g, '/').split('/');
    if (parts[0] === 'Chart.yaml') throw new ChartError('chart yaml not in base directory');
    const n = parts.slice(1).join('/');
    if (n.split('/').includes('..')) throw new ChartError(`chart illegally references parent directory: ${name}`);
    if (n) files.push({ name: n, data: Buffer.from(data) });
  }
  if (files.length === 0) throw new ChartError('no files in chart archive');
  return files;
}

// ------------------------------------------------------------------ writing

/** Helm writes this into the gzip header's extra field of every chart archive (and "Helm" as the comment). */
const HELM_GZIP_EXTRA = Buffer.from('+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=');

/** Re-frames zlib's gzip output with the header Go's gzip.Writer writes for Helm (extra, comment, no mtime, OS 255). */
function helmGzip(data: Buffer): Buffer {
  const z = gzipSync(data);
  const body = z.subarray(10); // deflate stream + CRC32 + ISIZE
  const xlen = Buffer.alloc(2);
  xlen.writeUInt16LE(HELM_GZIP_EXTRA.length);
  const header = Buffer.from([0x1f, 0x8b, 0x08, 0x04 | 0x10, 0, 0, 0, 0, 0x00, 0xff]);
  return Buffer.concat([header, xlen, HELM_GZIP_EXTRA, Buffer.from('Helm\0', 'latin1'), body]);
}

function lockYaml(lock: Record<string, unknown>): Buffer {
  const deps = Array.isArray(lock.dependencies) ? lock.dependencies : [];
  const out = {
    generated: lock.generated instanceof Date ? lock.generated.toISOString().replace(/\.000Z$/, 'Z') : lock.generated,
    digest: lock.digest ?? '',
    dependencies: deps.map((d: Record<string, unknown>) => {
      const o: Record<string, unknown> = { name: d.name ?? '', repository: d.repository ?? '' };
      for (const k of ['version', 'condition', 'tags', 'enabled', 'import-values', 'alias']) {
        const v = d[k];
        if (v !== undefined && v !== null && v !== '' && v !== false && !(Array.isArray(v) && v.length === 0)) o[k] = v;
      }
      return o;
    }),
  };
  return Buffer.from(goYaml(out));
}

/** The tar entries `helm package` writes for a chart, in Helm's order. */
function tarEntries(c: Chart, prefix: string): ChartFile[] {
  const base = prefix ? `${prefix}/${c.metadata.name}` : c.metadata.name!;
  const out: ChartFile[] = [{ name: `${base}/Chart.yaml`, data: chartYaml(c.metadata) }];
  if (c.metadata.apiVersion === 'v2' && c.lock) out.push({ name: `${base}/Chart.lock`, data: lockYaml(c.lock) });
  if (c.values) out.push({ name: `${base}/values.yaml`, data: c.values });
  if (c.schema) {
    try {
      JSON.parse(c.schema.toString('utf8'));
    } catch {
      throw new ChartError('Invalid JSON in values.schema.json');
    }
    out.push({ name: `${base}/values.schema.json`, data: c.schema });
  }
  for (const f of c.templates) out.push({ name: `${base}/${f.name}`, data: f.data });
  for (const f of c.files) out.push({ name: `${base}/${f.name}`, data: f.data });
  for (const d of c.dependencies) out.push(...tarEntries(d, `${base}/charts`));
  return out;
}

/** A numeric tar header field as Go's archive/tar writes it: zero-padded octal and a NUL. */
function octal(buf: Buffer, off: number, len: number, n: number): void {
  buf.write(`${n.toString(8).padStart(len - 1, '0')}\0`, off, len, 'latin1');
}

/** One ustar header block as Go's tar.Writer writes it for a regular file (PAX record for long names). */
function tarHeader(name: string, size: number, mtime: number, type = '0'): Buffer {
  const h = Buffer.alloc(512);
  let prefix = '';
  let short = name;
  if (Buffer.byteLength(name) > 100) {
    const i = name.lastIndexOf('/', 155);
    if (i > 0 && Buffer.byteLength(name.slice(i + 1)) <= 100 && Buffer.byteLength(name.slice(0, i)) <= 155) {
      prefix = name.slice(0, i);
      short = name.slice(i + 1);
    } else short = name.slice(0, 100);
  }
  h.write(short, 0, 100, 'utf8');
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156);
  h.write(type, 156, 1, 'latin1');
  h.write('ustar\0' + '00', 257, 8, 'latin1');
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

const pad512 = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function tarEntry(name: string, data: Buffer, mtime: number): Buffer[] {
  const out: Buffer[] = [];
  const fits =
    Buffer.byteLength(name) <= 100 ||
    (() => {
      const i = name.lastIndexOf('/', 155);
      return i > 0 && Buffer.byteLength(name.slice(i + 1)) <= 100;
    })();
  if (!fits) {
    const rec = (k: string, v: string) => {
      const body = ` ${k}=${v}\n`;
      const bl = Buffer.byteLength(body);
      let n = bl + 1;
      while (String(n).length + bl !== n) n = String(n).length + bl;
      return `${n}${body}`;
    };
    const pax = Buffer.from(rec('path', name), 'utf8');
    out.push(tarHeader(`PaxHeaders.0/${name.split('/').pop()!.slice(0, 80)}`, pax.length, mtime, 'x'), pax, pad512(pax.length));
  }
  out.push(tarHeader(name, data.length, mtime), data, pad512(data.length));
  return out;
}

/** `helm package`: the chart archive (gzip'd ustar, files 0644, mtime now, Helm's gzip header). */
export async function packageChart(c: Chart, now = new Date()): Promise<Buffer> {
  const mtime = Math.floor(now.getTime() / 1000);
  const parts = tarEntries(c, '').flatMap((e) => tarEntry(e.name, e.data, mtime));
  parts.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return helmGzip(Buffer.concat(parts));
}

/** The file name `helm package` gives an archive: <name>-<version>.tgz. */
export function archiveName(md: ChartMetadata): string {
  return `${md.name}-${md.version}.tgz`;
}

/** chartutil.SaveDir (`helm chart export`): the chart as files under <dest>/<name>; subcharts as .tgz. Returns the directory. */
export async function saveChartDir(c: Chart, dest: string): Promise<string> {
  const outdir = path.join(dest, c.metadata.name!);
  try {
    if (!statSync(outdir).isDirectory()) throw new ChartError(`file ${outdir} already exists and is not a directory`);
  } catch (e) {
    if (e instanceof ChartError) throw e;
  }
  const write = (rel: string, data: Buffer) => {
    const p = path.join(outdir, rel);
    mkdirSync(path.dirname(p), { recursive: true, mode: 0o755 });
    writeFileSync(p, data, { mode: 0o644 });
  };
  write('Chart.yaml', chartYaml(c.metadata));
  if (c.values) write('values.yaml', c.values);
  if (c.schema) write('values.schema.json', c.schema);
  for (const f of [...c.templates, ...c.files]) write(f.name, f.data);
  for (const d of c.dependencies) write(`charts/${archiveName(d.metadata)}`, await packageChart(d));
  return outdir;
}
