import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
function helmRegistryConfigPath(env = process.env) {
  if (env.HELM_REGISTRY_CONFIG) return env.HELM_REGISTRY_CONFIG;
  const configHome = env.HELM_CONFIG_HOME ?? path.join(env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), ".config"), "helm");
  return path.join(configHome, "registry", "config.json");
}
function dockerConfigPath(env = process.env) {
  return path.join(env.DOCKER_CONFIG || path.join(env.HOME || homedir(), ".docker"), "config.json");
}
function readConfig(file) {
  try {
    const doc = JSON.parse(readFileSync(file, "utf8"));
    return doc && typeof doc === "object" && !Array.isArray(doc) ? doc : {};
  } catch (e) {
    if (e.code === "ENOENT") return {};
    throw new Error(`cannot read credentials file ${file}: ${e.message}`);
  }
}
const keysFor = (host) => [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
function lookup(file, host) {
  const auths = readConfig(file).auths;
  if (!auths) return void 0;
  for (const k of keysFor(host)) {
    const e = auths[k];
    if (!e) continue;
    if (e.auth) {
      const dec = Buffer.from(e.auth, "base64").toString("utf8");
      const i = dec.indexOf(":");
      if (i > 0) return { username: dec.slice(0, i), password: dec.slice(i + 1) };
    }
    if (e.username && e.password) return { username: e.username, password: e.password };
  }
  return void 0;
}
class CredentialStore {
  constructor(env = process.env, file) {
    this.env = env;
    this.file = file ?? helmRegistryConfigPath(env);
  }
  env;
  file;
  get(host) {
    return lookup(this.file, host) ?? lookup(dockerConfigPath(this.env), host);
  }
  set(host, c) {
    const doc = readConfig(this.file);
    const auths = doc.auths && typeof doc.auths === "object" ? doc.auths : {};
    auths[host] = { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") };
    doc.auths = auths;
    this.write(doc);
  }
  /** Removes the host's entry; false when there was none. */
  remove(host) {
    const doc = readConfig(this.file);
    const auths = doc.auths;
    if (!auths || !keysFor(host).some((k) => k in auths)) return false;
    for (const k of keysFor(host)) delete auths[k];
    this.write(doc);
    return true;
  }
  write(doc) {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 448 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, "	")}
`, { mode: 384 });
    chmodSync(tmp, 384);
    renameSync(tmp, this.file);
  }
}
export {
  CredentialStore,
  dockerConfigPath,
  helmRegistryConfigPath
};
//# sourceMappingURL=credentials.js.map
