import { readFileSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { configSchema } from "./schema.js";
import { buildArtifactPolicy } from "../oci/artifact-policy.js";
import { fipsConfigProblems } from "../crypto/fips.js";
import { durationSeconds } from "./schema-tags.js";
import { identityConfigProblems } from "./schema-identity.js";
import { storageSettings } from "./schema-storage.js";
import { SCANNER_BOOLEAN_ENV_KEYS, SCANNER_NUMERIC_ENV_KEYS, SCANNER_STRING_ENV_KEYS, scannerEnvOverrides } from "./env-scanner.js";
class ConfigError extends Error {
  constructor(problems) {
    super(`invalid configuration:
${problems.map((p) => `  ${p}`).join("\n")}`);
    this.problems = problems;
  }
  problems;
}
const ENV_KEYS = [
  "DB_URI",
  "SERVER_HOSTNAME",
  "PREFERRED_URL_SCHEME",
  "LISTEN",
  "DATA_DIR",
  "AUTHENTICATION_TYPE",
  "METRICS_BASIC_AUTH",
  "LDAP_URI",
  "LDAP_ADMIN_DN",
  "LDAP_ADMIN_PASSWD",
  "DEFAULT_TAG_EXPIRATION",
  ...SCANNER_STRING_ENV_KEYS
];
const NUMERIC_ENV_KEYS = [
  "MAXIMUM_MANIFEST_SIZE",
  "UPLOAD_EXPIRY_SECONDS",
  "GC_GRACE_SECONDS",
  "GC_INTERVAL_SECONDS",
  "LIST_PAGE_MAX",
  "SHUTDOWN_GRACE_SECONDS",
  "METRICS_PORT",
  "METRICS_ROW_COUNT_INTERVAL_SECONDS",
  ...SCANNER_NUMERIC_ENV_KEYS
];
const BOOLEAN_ENV_KEYS = [
  "FEATURE_PROXY_STORAGE",
  "METRICS_ENABLED",
  "METRICS_ON_MAIN_PORT",
  "FEATURE_GENERAL_OCI_SUPPORT",
  "FEATURE_HELM_OCI_SUPPORT",
  ...SCANNER_BOOLEAN_ENV_KEYS
];
function formatPath(p) {
  const parts = [];
  p.forEach((k, i) => {
    if (p[0] === "DISTRIBUTED_STORAGE_CONFIG" && i === 2) {
      if (k === 0) parts.push("driver");
      return;
    }
    parts.push(typeof k === "number" ? `[${k}]` : String(k));
  });
  return parts.join(".").replace(/\.\[/g, "[");
}
function readConfigFile(file) {
  let text;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return { doc: {}, problems: [`${file}: cannot read: ${e.code ?? e.message}`] };
  }
  try {
    const doc = parseYaml(text) ?? {};
    if (typeof doc !== "object" || Array.isArray(doc)) return { doc: {}, problems: [`${file}: the top level must be a mapping of keys`] };
    return { doc, problems: [] };
  } catch (e) {
    return { doc: {}, problems: [`${file}: not valid YAML: ${e.message.split("\n")[0]}`] };
  }
}
function validateConfig(doc) {
  const r = configSchema.safeParse(doc);
  if (r.success) {
    const more = [...fipsConfigProblems(r.data), ...identityConfigProblems(r.data)];
    return more.length ? { problems: more } : { config: r.data, problems: [] };
  }
  const problems = r.error.issues.map((i) => {
    const where = formatPath(i.path);
    const msg = i.code === "invalid_type" && i.input === void 0 ? "required" : i.message;
    return `${where || "(top level)"}: ${msg}`;
  });
  return { problems };
}
function loadConfig(opts = {}) {
  const env = opts.env ?? process.env;
  const problems = [];
  let doc = {};
  const file = opts.file ?? env.BERTH_CONFIG;
  if (file) {
    const r = readConfigFile(file);
    doc = r.doc;
    problems.push(...r.problems);
  }
  doc = { ...doc };
  for (const k of ENV_KEYS) if (env[k]) doc[k] = env[k];
  for (const k of NUMERIC_ENV_KEYS) {
    if (env[k] !== void 0 && env[k] !== "") {
      const n = Number(env[k]);
      if (!Number.isFinite(n)) problems.push(`${k} (environment): must be a number`);
      else doc[k] = n;
    }
  }
  for (const k of BOOLEAN_ENV_KEYS) {
    const v2 = env[k]?.trim().toLowerCase();
    if (v2 === void 0 || v2 === "") continue;
    if (["true", "1", "yes", "on"].includes(v2)) doc[k] = true;
    else if (["false", "0", "no", "off"].includes(v2)) doc[k] = false;
    else problems.push(`${k} (environment): must be true or false`);
  }
  scannerEnvOverrides(env, doc, problems);
  if (env.TRUSTED_PROXIES !== void 0 && env.TRUSTED_PROXIES !== "") doc.TRUSTED_PROXIES = env.TRUSTED_PROXIES.split(",").map((x) => x.trim()).filter(Boolean);
  if (env.BERTH_DATA) doc.DATA_DIR = env.BERTH_DATA;
  if (env.BERTH_LISTEN) doc.LISTEN = env.BERTH_LISTEN;
  if (opts.data) doc.DATA_DIR = opts.data;
  if (opts.listen) doc.LISTEN = opts.listen;
  if (opts.fips || /^(true|1)$/i.test(env.FEATURE_FIPS ?? "")) doc.FEATURE_FIPS = true;
  const v = validateConfig(doc);
  problems.push(...v.problems);
  if (problems.length || !v.config) throw new ConfigError(problems);
  return resolve(v.config);
}
function listenHostname(host, port) {
  if (host === "0.0.0.0" || host === "::" || host === "") return `localhost:${port}`;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
function resolve(raw) {
  const dataDir = path.resolve(raw.DATA_DIR);
  const idx = raw.LISTEN.lastIndexOf(":");
  let host = raw.LISTEN.slice(0, idx) || "0.0.0.0";
  if (host.startsWith("[")) host = host.slice(1, -1);
  const port = Number(raw.LISTEN.slice(idx + 1));
  if (port > 65535) throw new ConfigError([`LISTEN: port ${port} is out of range`]);
  let db;
  const uri = raw.DB_URI;
  if (!uri) db = { kind: "sqlite", file: path.join(dataDir, "berth.db") };
  else if (uri.startsWith("sqlite:")) {
    const p = uri.replace(/^sqlite:(\/\/\/)?/, "");
    db = { kind: "sqlite", file: p === ":memory:" ? p : path.resolve(p) };
  } else db = { kind: "postgres", uri, maxConnections: raw.DB_CONNECTION_ARGS?.max_connections ?? 10 };
  let storage = { kind: "local", path: path.join(dataDir, "blobs"), configKey: "DATA_DIR" };
  const storageCfg = raw.DISTRIBUTED_STORAGE_CONFIG;
  if (storageCfg) {
    const preferred = raw.DISTRIBUTED_STORAGE_PREFERENCE?.[0] ?? Object.keys(storageCfg)[0];
    const entry = storageCfg[preferred];
    if (!entry) throw new ConfigError([`DISTRIBUTED_STORAGE_PREFERENCE[0]: "${preferred}" is not a key of DISTRIBUTED_STORAGE_CONFIG`]);
    try {
      storage = storageSettings(preferred, entry, (p) => path.resolve(p));
    } catch (e) {
      throw new ConfigError([`DISTRIBUTED_STORAGE_CONFIG.${preferred}: ${e.message}`]);
    }
  }
  return {
    raw,
    serverHostname: raw.SERVER_HOSTNAME ?? listenHostname(host, port),
    serverHostnameSet: raw.SERVER_HOSTNAME !== void 0,
    urlScheme: raw.PREFERRED_URL_SCHEME,
    listen: { host, port },
    dataDir,
    db,
    storage,
    proxyStorage: raw.FEATURE_PROXY_STORAGE,
    storageRedirectSeconds: raw.STORAGE_REDIRECT_SECONDS,
    maxManifestBytes: raw.MAXIMUM_MANIFEST_SIZE,
    uploadExpirySeconds: raw.UPLOAD_EXPIRY_SECONDS,
    gcGraceSeconds: raw.GC_GRACE_SECONDS,
    gcIntervalSeconds: raw.GC_INTERVAL_SECONDS,
    tagHistorySeconds: durationSeconds(raw.DEFAULT_TAG_EXPIRATION),
    listPageMax: raw.LIST_PAGE_MAX,
    shutdownGraceSeconds: raw.SHUTDOWN_GRACE_SECONDS,
    artifacts: buildArtifactPolicy({ generalOci: raw.FEATURE_GENERAL_OCI_SUPPORT, helmOci: raw.FEATURE_HELM_OCI_SUPPORT, allowed: raw.ALLOWED_OCI_ARTIFACT_TYPES })
  };
}
export {
  ConfigError,
  loadConfig,
  readConfigFile,
  validateConfig
};
//# sourceMappingURL=load.js.map
