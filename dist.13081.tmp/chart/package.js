import { lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { parse as parseYaml } from "yaml";
import { ChartError } from "./errors.js";
import { chartYaml, goYaml, metadataFrom, validateMetadata } from "./metadata.js";
function globToRegex(glob) {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "\\" && i + 1 < glob.length) re += `\\${glob[++i]}`;
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) throw new ChartError(`.helmignore: syntax error in pattern "${glob}"`);
      let cls = glob.slice(i + 1, end);
      if (cls.startsWith("^")) cls = `^${cls.slice(1)}`;
      re += `[${cls.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
function parseHelmignore(text) {
  const rules = [];
  const add = (line) => {
    let rule = line.trim();
    if (rule === "" || rule.startsWith("#")) return;
    if (rule.includes("**")) throw new ChartError(`.helmignore: double-star (**) syntax is not supported: ${rule}`);
    let negate = false;
    let mustDir = false;
    if (rule.startsWith("!")) {
      negate = true;
      rule = rule.slice(1);
    }
    if (rule.endsWith("/")) {
      mustDir = true;
      rule = rule.slice(0, -1);
    }
    if (rule.startsWith("/")) {
      const re = globToRegex(rule.slice(1));
      rules.push({ negate, mustDir, match: (p) => re.test(p) });
    } else if (rule.includes("/")) {
      const re = globToRegex(rule);
      rules.push({ negate, mustDir, match: (p) => re.test(p) });
    } else {
      const re = globToRegex(rule);
      rules.push({ negate, mustDir, match: (p) => re.test(p.slice(p.lastIndexOf("/") + 1)) });
    }
  };
  for (const line of text.split(/\r?\n/)) add(line);
  add("templates/.?*");
  return rules;
}
function ignored(rules, p, isDir) {
  if (p === "" || p === "." || p === "./") return false;
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
function loadChartDir(dir) {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new ChartError(`path "${dir}" not found`);
  }
  if (!st.isDirectory()) {
    if (/\.t(ar\.)?gz$/.test(dir)) return loadChartArchive(readFileSync(dir));
    throw new ChartError(`${dir} is not a chart directory (or .tgz)`);
  }
  const ignoreFile = path.join(dir, ".helmignore");
  const rules = parseHelmignore(existsFile(ignoreFile) ? readFileSync(ignoreFile, "utf8") : "");
  const files = [];
  const walk = (abs, rel) => {
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
  walk(path.resolve(dir), "");
  if (!files.some((f) => f.name === "Chart.yaml")) throw new ChartError(`${dir}: Chart.yaml file is missing (is this a chart directory?)`);
  return loadFiles(files);
}
function existsFile(p) {
  try {
    return lstatSync(p).isFile() || statSync(p).isFile();
  } catch {
    return false;
  }
}
function loadFiles(files) {
  let metadata;
  const c = { templates: [], files: [], dependencies: [] };
  const sub = /* @__PURE__ */ new Map();
  for (const f of files) {
    if (f.name === "Chart.yaml") {
      const raw = parseYamlObject(f.data, "Chart.yaml");
      metadata = metadataFrom(raw);
      if (!metadata.apiVersion) metadata.apiVersion = "v1";
    } else if (f.name === "Chart.lock") {
      c.lock = parseYamlObject(f.data, "Chart.lock");
    } else if (f.name === "values.yaml") {
      c.values = f.data;
    } else if (f.name === "values.schema.json") {
      c.schema = f.data;
    } else if (f.name.startsWith("templates/")) {
      c.templates.push(f);
    } else if (f.name.startsWith("charts/")) {
      if (f.name.endsWith(".prov")) {
        c.files.push(f);
        continue;
      }
      const rest = f.name.slice("charts/".length);
      const cname = rest.split("/")[0];
      if (!sub.has(cname)) sub.set(cname, []);
      sub.get(cname).push({ name: rest, data: f.data });
    } else {
      c.files.push(f);
    }
  }
  if (!metadata) throw new ChartError("validation: chart.metadata is required (Chart.yaml is missing)");
  const chart = { metadata: validateMetadata(metadata), ...c };
  for (const cname of [...sub.keys()].sort()) {
    const list = sub.get(cname);
    if (list.length === 1 && list[0].name === cname && /\.t(ar\.)?gz$/.test(cname)) {
      chart.dependencies.push(loadChartArchive(list[0].data));
    } else {
      const inner = list.filter((f) => f.name.startsWith(`${cname}/`)).map((f) => ({ name: f.name.slice(cname.length + 1), data: f.data }));
      if (inner.some((f) => f.name === "Chart.yaml")) chart.dependencies.push(loadFiles(inner));
      else chart.files.push(...list.map((f) => ({ name: `charts/${f.name}`, data: f.data })));
    }
  }
  return chart;
}
function parseYamlObject(data, what) {
  let doc;
  try {
    doc = parseYaml(data.toString("utf8"));
  } catch (e) {
    throw new ChartError(`cannot load ${what}: ${e.message.split("\n")[0]}`);
  }
  if (doc === null || doc === void 0) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ChartError(`cannot load ${what}: it must be a mapping of keys`);
  return doc;
}
function loadChartArchive(tgz) {
  return loadFiles(readArchiveFilesSync(tgz));
}
function readArchiveFilesSync(tgz) {
  let buf;
  try {
    buf = gunzipSync(tgz);
  } catch {
    throw new ChartError("the chart archive is not gzip-compressed (expected a .tgz made by helm package)");
  }
  const files = [];
  let off = 0;
  let paxName;
  let gnuLong;
  const field = (o, n) => buf.subarray(o, o + n).toString("utf8").replace(/\0.*$/s, "");
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(field(off + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(h[156] || 48);
    const prefix = field(off + 345, 155);
    let name = field(off, 100);
    if (prefix && h.subarray(257, 262).toString() === "ustar") name = `${prefix}/${name}`;
    const data = buf.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const m = /\d+ path=([^\n]*)\n/.exec(data.toString("utf8"));
      if (m) paxName = m[1];
      continue;
    }
    if (type === "L") {
      gnuLong = data.toString("utf8").replace(/\0.*$/s, "");
      continue;
    }
    if (type === "g") continue;
    name = paxName ?? gnuLong ?? name;
    paxName = void 0;
    gnuLong = void 0;
    if (type !== "0" && type !== "7") continue;
    const parts = name.replace(/\\/g, "/").split("/");
    if (parts[0] === "Chart.yaml") throw new ChartError("chart yaml not in base directory");
    const n = parts.slice(1).join("/");
    if (n.split("/").includes("..")) throw new ChartError(`chart illegally references parent directory: ${name}`);
    if (n) files.push({ name: n, data: Buffer.from(data) });
  }
  if (files.length === 0) throw new ChartError("no files in chart archive");
  return files;
}
const HELM_GZIP_EXTRA = Buffer.from("+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=");
function helmGzip(data) {
  const z = gzipSync(data);
  const body = z.subarray(10);
  const xlen = Buffer.alloc(2);
  xlen.writeUInt16LE(HELM_GZIP_EXTRA.length);
  const header = Buffer.from([31, 139, 8, 4 | 16, 0, 0, 0, 0, 0, 255]);
  return Buffer.concat([header, xlen, HELM_GZIP_EXTRA, Buffer.from("Helm\0", "latin1"), body]);
}
function lockYaml(lock) {
  const deps = Array.isArray(lock.dependencies) ? lock.dependencies : [];
  const out = {
    generated: lock.generated instanceof Date ? lock.generated.toISOString().replace(/\.000Z$/, "Z") : lock.generated,
    digest: lock.digest ?? "",
    dependencies: deps.map((d) => {
      const o = { name: d.name ?? "", repository: d.repository ?? "" };
      for (const k of ["version", "condition", "tags", "enabled", "import-values", "alias"]) {
        const v = d[k];
        if (v !== void 0 && v !== null && v !== "" && v !== false && !(Array.isArray(v) && v.length === 0)) o[k] = v;
      }
      return o;
    })
  };
  return Buffer.from(goYaml(out));
}
function tarEntries(c, prefix) {
  const base = prefix ? `${prefix}/${c.metadata.name}` : c.metadata.name;
  const out = [{ name: `${base}/Chart.yaml`, data: chartYaml(c.metadata) }];
  if (c.metadata.apiVersion === "v2" && c.lock) out.push({ name: `${base}/Chart.lock`, data: lockYaml(c.lock) });
  if (c.values) out.push({ name: `${base}/values.yaml`, data: c.values });
  if (c.schema) {
    try {
      JSON.parse(c.schema.toString("utf8"));
    } catch {
      throw new ChartError("Invalid JSON in values.schema.json");
    }
    out.push({ name: `${base}/values.schema.json`, data: c.schema });
  }
  for (const f of c.templates) out.push({ name: `${base}/${f.name}`, data: f.data });
  for (const f of c.files) out.push({ name: `${base}/${f.name}`, data: f.data });
  for (const d of c.dependencies) out.push(...tarEntries(d, `${base}/charts`));
  return out;
}
function octal(buf, off, len, n) {
  buf.write(`${n.toString(8).padStart(len - 1, "0")}\0`, off, len, "latin1");
}
function tarHeader(name, size, mtime, type = "0") {
  const h = Buffer.alloc(512);
  let prefix = "";
  let short = name;
  if (Buffer.byteLength(name) > 100) {
    const i = name.lastIndexOf("/", 155);
    if (i > 0 && Buffer.byteLength(name.slice(i + 1)) <= 100 && Buffer.byteLength(name.slice(0, i)) <= 155) {
      prefix = name.slice(0, i);
      short = name.slice(i + 1);
    } else short = name.slice(0, 100);
  }
  h.write(short, 0, 100, "utf8");
  octal(h, 100, 8, 420);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(32, 148, 156);
  h.write(type, 156, 1, "latin1");
  h.write("ustar\x0000", 257, 8, "latin1");
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  h.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
  return h;
}
const pad512 = (n) => Buffer.alloc((512 - n % 512) % 512);
function tarEntry(name, data, mtime) {
  const out = [];
  const fits = Buffer.byteLength(name) <= 100 || (() => {
    const i = name.lastIndexOf("/", 155);
    return i > 0 && Buffer.byteLength(name.slice(i + 1)) <= 100;
  })();
  if (!fits) {
    const rec = (k, v) => {
      const body = ` ${k}=${v}
`;
      const bl = Buffer.byteLength(body);
      let n = bl + 1;
      while (String(n).length + bl !== n) n = String(n).length + bl;
      return `${n}${body}`;
    };
    const pax = Buffer.from(rec("path", name), "utf8");
    out.push(tarHeader(`PaxHeaders.0/${name.split("/").pop().slice(0, 80)}`, pax.length, mtime, "x"), pax, pad512(pax.length));
  }
  out.push(tarHeader(name, data.length, mtime), data, pad512(data.length));
  return out;
}
async function packageChart(c, now = /* @__PURE__ */ new Date()) {
  const mtime = Math.floor(now.getTime() / 1e3);
  const parts = tarEntries(c, "").flatMap((e) => tarEntry(e.name, e.data, mtime));
  parts.push(Buffer.alloc(1024));
  return helmGzip(Buffer.concat(parts));
}
function archiveName(md) {
  return `${md.name}-${md.version}.tgz`;
}
async function saveChartDir(c, dest) {
  const outdir = path.join(dest, c.metadata.name);
  try {
    if (!statSync(outdir).isDirectory()) throw new ChartError(`file ${outdir} already exists and is not a directory`);
  } catch (e) {
    if (e instanceof ChartError) throw e;
  }
  const write = (rel, data) => {
    const p = path.join(outdir, rel);
    mkdirSync(path.dirname(p), { recursive: true, mode: 493 });
    writeFileSync(p, data, { mode: 420 });
  };
  write("Chart.yaml", chartYaml(c.metadata));
  if (c.values) write("values.yaml", c.values);
  if (c.schema) write("values.schema.json", c.schema);
  for (const f of [...c.templates, ...c.files]) write(f.name, f.data);
  for (const d of c.dependencies) write(`charts/${archiveName(d.metadata)}`, await packageChart(d));
  return outdir;
}
export {
  archiveName,
  loadChartArchive,
  loadChartDir,
  loadFiles,
  packageChart,
  parseHelmignore,
  readArchiveFilesSync,
  saveChartDir
};
//# sourceMappingURL=package.js.map
