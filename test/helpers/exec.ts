// Runs external programs (skopeo, podman, buildah, umoci, zstd) from tests.
// Always asynchronous: an in-process Berth server must keep answering while the client runs.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Written to the child's standard input, which is then closed. */
  input?: string | Buffer;
  /** The child is killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
}

export interface RunResult {
  command: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  /** Standard output as bytes (for binary output such as `zstd -dc`). */
  stdoutBytes: Buffer;
  stderr: string;
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs a program and captures its output; never throws for a non-zero exit (see runOk). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = [cmd, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
    const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(out);
      resolve({
        command,
        code,
        signal,
        timedOut,
        stdout: stdoutBytes.toString('utf8'),
        stdoutBytes,
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // the child may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

export function describeResult(r: RunResult): string {
  const how = r.timedOut ? 'timed out' : r.signal ? `killed by ${r.signal}` : `exited ${r.code}`;
  return `\`${r.command}\` ${how}\n--- stdout ---\n${r.stdout.slice(-4000)}\n--- stderr ---\n${r.stderr.slice(-8000)}`;
}

/** Runs a program and throws (with the command line and all its output) unless it exits 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(describeResult(r));
  return r;
}

/** The absolute path of a program on PATH, or undefined. */
export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, bin);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

export type SandboxTool = 'skopeo' | 'podman' | 'buildah' | 'umoci';

/**
 * An isolated home for the containers/image tools (skopeo, podman, buildah): its own
 * storage (vfs, no overlay needed), registries.conf without short-name prompts, a
 * signature policy that accepts anything, an empty auth file and runtime directory.
 * Images and containers live under the sandbox directory, never in /var/lib/containers/storage.
 * (As root, skopeo still keeps its blob info cache in /var/lib/containers/cache: it has no
 * option to move it.)
 */
export class ContainerSandbox {
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly policy: string;
  private readonly storageFlags: string[];

  constructor(prefix = 'berth-clients-') {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix));
    const d = (name: string) => {
      const p = path.join(this.dir, name);
      mkdirSync(p, { recursive: true, mode: 0o700 });
      return p;
    };
    const graphroot = d('storage/root');
    const runroot = d('storage/run');
    const home = d('home');
    const xdgRuntime = d('xdg-runtime');
    const libpodTmp = d('libpod-tmp');
    d('home/.config/containers');
    const storageConf = path.join(this.dir, 'storage.conf');
    writeFileSync(storageConf, `[storage]\ndriver = "vfs"\ngraphroot = "${graphroot}"\nrunroot = "${runroot}"\n`);
    const registriesConf = path.join(this.dir, 'registries.conf');
    writeFileSync(registriesConf, 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n');
    const containersConf = path.join(this.dir, 'containers.conf');
    writeFileSync(containersConf, `[engine]\nevents_logger = "none"\ncgroup_manager = "cgroupfs"\ntmp_dir = "${libpodTmp}"\n`);
    this.policy = path.join(this.dir, 'policy.json');
    writeFileSync(this.policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    writeFileSync(path.join(home, '.config/containers/policy.json'), JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
    const authFile = path.join(this.dir, 'auth.json');
    writeFileSync(authFile, '{"auths":{}}');
    this.env = {
      HOME: home,
      XDG_RUNTIME_DIR: xdgRuntime,
      XDG_CONFIG_HOME: path.join(home, '.config'),
      CONTAINERS_STORAGE_CONF: storageConf,
      CONTAINERS_REGISTRIES_CONF: registriesConf,
      REGISTRIES_CONFIG_PATH: registriesConf,
      CONTAINERS_CONF: containersConf,
      REGISTRY_AUTH_FILE: authFile,
      TMPDIR: d('tmp'),
    };
    this.storageFlags = ['--root', graphroot, '--runroot', runroot, '--storage-driver', 'vfs'];
  }

  /** A fresh directory inside the sandbox (for OCI layouts, dir: copies, bundles). */
  mkdir(name: string): string {
    const p = mkdtempSync(path.join(this.dir, `${name}-`));
    return p;
  }

  private globalFlags(cmd: SandboxTool): string[] {
    if (cmd === 'skopeo') return ['--policy', this.policy];
    if (cmd === 'podman') return [...this.storageFlags, '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
    if (cmd === 'buildah') return this.storageFlags;
    return [];
  }

  /** Runs one of the tools inside the sandbox; throws with its whole output unless it exits 0. */
  exec(cmd: SandboxTool, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return runOk(cmd, [...this.globalFlags(cmd), ...args], { ...opts, env: { ...this.env, ...opts.env } });
  }

  /** Same as exec but never throws, for commands expected to fail. */
  try(cmd: SandboxTool, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return run(cmd, [...this.globalFlags(cmd), ...args], { ...opts, env: { ...this.env, ...opts.env } });
  }

  skopeo(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec('skopeo', args, opts);
  }

  podman(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec('podman', args, opts);
  }

  buildah(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec('buildah', args, opts);
  }

  umoci(args: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.exec('umoci', args, opts);
  }

  async cleanup(): Promise<void> {
    // vfs layers may contain read-only directories; make them writable before removing.
    await run('chmod', ['-R', 'u+w', this.dir]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
