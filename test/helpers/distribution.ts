// Debian's docker-registry (CNCF distribution 2.8) as a real upstream for tests: a free port, its own
// filesystem storage in a temporary directory, delete enabled, optional htpasswd Basic auth.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './server.ts';
import { waitFor } from './wait.ts';

export const DISTRIBUTION_BIN = '/usr/bin/docker-registry';

export interface Distribution {
  /** http://127.0.0.1:<port> */
  url: string;
  /** 127.0.0.1:<port> */
  host: string;
  port: number;
  dir: string;
  proc: ChildProcess;
  log(): string;
  /** Stops the process (SIGTERM, then SIGKILL); the storage stays until cleanup(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and storage (after stop()). */
  restart(): Promise<void>;
  /** stop() and remove the temporary directory. */
  cleanup(): Promise<void>;
}

/** A bcrypt htpasswd line (what distribution's htpasswd auth accepts), made with Python's crypt module. */
export function htpasswdLine(user: string, password: string): string {
  const hash = execFileSync(
    'python3',
    ['-W', 'ignore', '-c', 'import crypt,sys;print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1<<4)))', password],
    { encoding: 'utf8' },
  ).trim();
  if (!hash.startsWith('$2')) throw new Error(`python3 crypt did not produce a bcrypt hash: ${hash}`);
  return `${user}:${hash}`;
}

export async function startDistribution(opts: { users?: Record<string, string> } = {}): Promise<Distribution> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-distribution-'));
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${path.join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (opts.users) {
    const file = path.join(dir, 'htpasswd');
    writeFileSync(
      file,
      `${Object.entries(opts.users)
        .map(([u, p]) => htpasswdLine(u, p))
        .join('\n')}\n`,
    );
    lines.push('auth:', '  htpasswd:', '    realm: berth-test', `    path: ${file}`);
  }
  const cfg = path.join(dir, 'config.yml');
  writeFileSync(cfg, `${lines.join('\n')}\n`);
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  let proc!: ChildProcess;
  let exited: Promise<void> = Promise.resolve();
  let gone = true;

  const start = async () => {
    log = '';
    proc = spawn(DISTRIBUTION_BIN, ['serve', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    gone = false;
    const keep = (d: Buffer) => {
      log = (log + d.toString()).slice(-20_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    exited = new Promise((r) =>
      proc.once('exit', () => {
        gone = true;
        r();
      }),
    );
    await waitFor(
      async () => {
        if (gone) throw new Error(`docker-registry exited during start-up:\n${log}`);
        try {
          const r = await fetch(`${url}/v2/`);
          await r.arrayBuffer();
          return r.status === 200 || r.status === 401;
        } catch {
          return false;
        }
      },
      { what: 'docker-registry to answer /v2/', timeout: 30_000, interval: 50, detail: () => log },
    );
  };
  const stop = async () => {
    if (gone) return;
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  await start();
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    dir,
    get proc() {
      return proc;
    },
    log: () => log,
    stop,
    restart: start,
    async cleanup() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
