// Registry credentials in the file format docker and `helm registry login` share:
// {"auths": {"host:port": {"auth": base64("user:password")}}}. Berth writes Helm's file and reads Helm's, then docker's.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export interface Credentials {
  username: string;
  password: string;
}
type Env = NodeJS.ProcessEnv;

/** $HELM_REGISTRY_CONFIG, else $HELM_CONFIG_HOME/registry/config.json, else $XDG_CONFIG_HOME/helm/…, else ~/.config/helm/… */
export function helmRegistryConfigPath(env: Env = process.env): string {
  if (env.HELM_REGISTRY_CONFIG) return env.HELM_REGISTRY_CONFIG;
  const configHome = env.HELM_CONFIG_HOME ?? path.join(env.XDG_CONFIG_HOME || path.join(env.HOME || homedir(), '.config'), 'helm');
  return path.join(configHome, 'registry', 'config.json');
}

/** $DOCKER_CONFIG/config.json, else ~/.docker/config.json */
export function dockerConfigPath(env: Env = process.env): string {
  return path.join(env.DOCKER_CONFIG || path.join(env.HOME || homedir(), '.docker'), 'config.json');
}

function readConfig(file: string): Record<string, unknown> {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : {};
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new Error(`cannot read credentials file ${file}: ${(e as Error).message}`);
  }
}

const keysFor = (host: string) => [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];

function lookup(file: string, host: string): Credentials | undefined {
  const auths = readConfig(file).auths as Record<string, { auth?: string; username?: string; password?: string }> | undefined;
  if (!auths) return undefined;
  for (const k of keysFor(host)) {
    const e = auths[k];
    if (!e) continue;
    if (e.auth) {
      const dec = Buffer.from(e.auth, 'base64').toString('utf8');
      const i = dec.indexOf(':');
      if (i > 0) return { username: dec.slice(0, i), password: dec.slice(i + 1) };
    }
    if (e.username && e.password) return { username: e.username, password: e.password };
  }
  return undefined;
}

export class CredentialStore {
  readonly file: string;
  constructor(
    private readonly env: Env = process.env,
    file?: string,
  ) {
    this.file = file ?? helmRegistryConfigPath(env);
  }

  get(host: string): Credentials | undefined {
    return lookup(this.file, host) ?? lookup(dockerConfigPath(this.env), host);
  }

  set(host: string, c: Credentials): void {
    const doc = readConfig(this.file);
    const auths = (doc.auths && typeof doc.auths === 'object' ? doc.auths : {}) as Record<string, unknown>;
    auths[host] = { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') };
    doc.auths = auths;
    this.write(doc);
  }

  /** Removes the host's entry; false when there was none. */
  remove(host: string): boolean {
    const doc = readConfig(this.file);
    const auths = doc.auths as Record<string, unknown> | undefined;
    if (!auths || !keysFor(host).some((k) => k in auths)) return false;
    for (const k of keysFor(host)) delete auths[k];
    this.write(doc);
    return true;
  }

  private write(doc: Record<string, unknown>): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(doc, null, '\t')}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
