import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ChartError } from "./errors.js";
import { goJson, sortedMap } from "./gojson.js";
const LOOSE_SEMVER = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;
function sanitize(s) {
  return s.replace(/\s/gu, " ").replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu, "");
}
const str = (v, where) => {
  if (v === void 0 || v === null) return void 0;
  if (typeof v !== "string") throw new ChartError(`Chart.yaml: ${where} must be a string, not ${JSON.stringify(v)} (quote it: ${where}: "${String(v)}")`);
  return v;
};
const strList = (v, where) => {
  if (v === void 0 || v === null) return void 0;
  if (!Array.isArray(v)) throw new ChartError(`Chart.yaml: ${where} must be a list of strings`);
  return v.map((x, i) => str(x, `${where}[${i}]`) ?? "");
};
const nonEmpty = (o) => {
  for (const k of Object.keys(o)) {
    const v = o[k];
    if (v === void 0 || v === "" || v === false || Array.isArray(v) && v.length === 0 || v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0) {
      delete o[k];
    }
  }
  return o;
};
function parseChartYaml(text) {
  let doc;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ChartError(`Chart.yaml is not valid YAML: ${e.message.split("\n")[0]}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new ChartError("Chart.yaml must be a mapping of keys (name, version, apiVersion, \u2026)");
  return metadataFrom(doc);
}
function metadataFrom(raw) {
  const lower = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
  const g = (k) => raw[k] !== void 0 ? raw[k] : lower.get(k.toLowerCase());
  const maintainers = g("maintainers");
  const deps = g("dependencies");
  const annotations = g("annotations");
  if (maintainers !== void 0 && maintainers !== null && !Array.isArray(maintainers)) throw new ChartError("Chart.yaml: maintainers must be a list");
  if (deps !== void 0 && deps !== null && !Array.isArray(deps)) throw new ChartError("Chart.yaml: dependencies must be a list");
  if (annotations !== void 0 && annotations !== null && (typeof annotations !== "object" || Array.isArray(annotations))) throw new ChartError("Chart.yaml: annotations must be a mapping of strings");
  const deprecated = g("deprecated");
  if (deprecated !== void 0 && deprecated !== null && typeof deprecated !== "boolean") throw new ChartError("Chart.yaml: deprecated must be true or false");
  const md = {
    name: str(g("name"), "name"),
    home: str(g("home"), "home"),
    sources: strList(g("sources"), "sources"),
    version: str(g("version"), "version"),
    description: str(g("description"), "description"),
    keywords: strList(g("keywords"), "keywords"),
    maintainers: maintainers?.map((m, i) => {
      if (!m || typeof m !== "object") throw new ChartError(`Chart.yaml: maintainers must not contain empty or null nodes (entry ${i})`);
      const o = m;
      return nonEmpty({ name: str(o.name, `maintainers[${i}].name`), email: str(o.email, `maintainers[${i}].email`), url: str(o.url, `maintainers[${i}].url`) });
    }),
    icon: str(g("icon"), "icon"),
    apiVersion: str(g("apiVersion"), "apiVersion"),
    condition: str(g("condition"), "condition"),
    tags: str(g("tags"), "tags"),
    appVersion: str(g("appVersion"), "appVersion"),
    deprecated: deprecated === true ? true : void 0,
    annotations: annotations ? Object.fromEntries(Object.entries(annotations).map(([k, v]) => [k, str(v, `annotations.${k}`) ?? ""])) : void 0,
    kubeVersion: str(g("kubeVersion"), "kubeVersion"),
    dependencies: deps?.map((d, i) => {
      if (!d || typeof d !== "object") throw new ChartError(`Chart.yaml: dependencies must not contain empty or null nodes (entry ${i})`);
      const o = d;
      const iv = o["import-values"];
      const dep = {
        name: str(o.name, `dependencies[${i}].name`) ?? "",
        version: str(o.version, `dependencies[${i}].version`),
        repository: str(o.repository, `dependencies[${i}].repository`) ?? "",
        condition: str(o.condition, `dependencies[${i}].condition`),
        tags: strList(o.tags, `dependencies[${i}].tags`),
        enabled: o.enabled === true ? true : void 0,
        "import-values": Array.isArray(iv) ? iv : void 0,
        alias: str(o.alias, `dependencies[${i}].alias`)
      };
      nonEmpty(dep);
      dep.name ??= "";
      dep.repository ??= "";
      return reorder(dep, ["name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias"]);
    }),
    type: str(g("type"), "type")
  };
  return nonEmpty(md);
}
function reorder(o, keys) {
  const out = {};
  for (const k of keys) if (o[k] !== void 0) out[k] = o[k];
  return out;
}
function validateMetadata(md) {
  const s = (v) => v === void 0 ? void 0 : sanitize(v);
  const out = nonEmpty({
    ...md,
    name: s(md.name),
    description: s(md.description),
    home: s(md.home),
    icon: s(md.icon),
    condition: s(md.condition),
    tags: s(md.tags),
    appVersion: s(md.appVersion),
    kubeVersion: s(md.kubeVersion),
    sources: md.sources?.map(sanitize),
    keywords: md.keywords?.map(sanitize),
    maintainers: md.maintainers?.map((m) => nonEmpty({ name: s(m.name), email: s(m.email), url: s(m.url) })),
    dependencies: md.dependencies?.map((d) => reorder(nonEmpty({ ...d, name: sanitize(d.name), version: s(d.version), repository: sanitize(d.repository), condition: s(d.condition), tags: d.tags?.map(sanitize) }), ["name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias"]))
  });
  for (const d of out.dependencies ?? []) {
    d.name ??= "";
    d.repository ??= "";
  }
  const ordered = reorder(out, ["name", "home", "sources", "version", "description", "keywords", "maintainers", "icon", "apiVersion", "condition", "tags", "appVersion", "deprecated", "annotations", "kubeVersion", "dependencies", "type"]);
  if (ordered.annotations) ordered.annotations = sortedMap(ordered.annotations);
  const bad = (m) => new ChartError(`validation: ${m}`);
  if (!ordered.apiVersion) throw bad("chart.metadata.apiVersion is required");
  if (!ordered.name) throw bad("chart.metadata.name is required");
  if (ordered.name === "." || ordered.name === "..") throw bad(`chart.metadata.name "${ordered.name}" is not allowed`);
  if (ordered.name.includes("/")) throw bad(`chart.metadata.name "${ordered.name}" is invalid`);
  if (!ordered.version) throw bad("chart.metadata.version is required");
  if (!LOOSE_SEMVER.test(ordered.version)) throw bad(`chart.metadata.version "${ordered.version}" is invalid`);
  if (ordered.type !== void 0 && !["application", "library"].includes(ordered.type)) throw bad("chart.metadata.type must be application or library");
  const seen = /* @__PURE__ */ new Set();
  for (const d of ordered.dependencies ?? []) {
    if (d.alias !== void 0 && !/^[a-zA-Z0-9_-]+$/.test(d.alias)) throw bad(`dependency "${d.name}" has disallowed characters in the alias`);
    const key = d.alias ?? d.name;
    if (seen.has(key)) throw bad(`more than one dependency with name or alias "${key}"`);
    seen.add(key);
  }
  return ordered;
}
function metadataConfigJson(md) {
  return Buffer.from(goJson(md));
}
function goYaml(value) {
  const plain = JSON.parse(JSON.stringify(value));
  return stringifyYaml(plain, { version: "1.1", sortMapEntries: true, indentSeq: false, singleQuote: false, lineWidth: 80, minContentWidth: 0 });
}
function chartYaml(md) {
  const copy = { ...md };
  if (copy.apiVersion === "v1") delete copy.dependencies;
  return Buffer.from(goYaml(copy));
}
export {
  LOOSE_SEMVER,
  chartYaml,
  goYaml,
  metadataConfigJson,
  metadataFrom,
  parseChartYaml,
  validateMetadata
};
//# sourceMappingURL=metadata.js.map
