// A real S3-compatible server for tests: the npm package s3rver, run as a separate process on a random port
// with its own data directory and one bucket. s3rver itself uses MD5 for ETags, so it runs outside FIPS mode
// (it stands for the object store, not for Berth).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';

const S3RVER_BIN = path.resolve(import.meta.dirname, '../../node_modules/s3rver/bin/s3rver.js');

export interface S3Server {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  host: string;
  port: number;
  bucket: string;
  accessKey: string;
  secretKey: string;
  dir: string;
  proc: ChildProcess;
  /** Kills the process (SIGKILL) and waits for it to exit; the data directory stays. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** A Quay-shaped DISTRIBUTED_STORAGE_CONFIG entry for this server. */
  storageConfig(driver?: 'S3Storage' | 'RadosGWStorage', storagePath?: string): Record<string, unknown>;
}

function withoutFips(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const e = { ...env };
  delete e.OPENSSL_CONF;
  delete e.FEATURE_FIPS;
  if (e.NODE_OPTIONS) e.NODE_OPTIONS = e.NODE_OPTIONS.replace(/--enable-fips|--force-fips/g, '').trim();
  return e;
}

async function launch(dir: string, port: number, bucket: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(
    process.execPath,
    [S3RVER_BIN, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket],
    { env: withoutFips(process.env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stderr!.on('data', (d) => (out += d));
  const listening = new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /S3rver listening on [^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`s3rver exited ${code}: ${out}`)));
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  try {
    return { proc, port: await listening };
  } finally {
    clearTimeout(timer);
  }
}

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-s3rver-'));
  const bucket = opts.bucket ?? 'berth-test';
  let { proc, port } = await launch(dir, 0, bucket);
  const stopProc = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGKILL');
    await exited;
  };
  const server: S3Server = {
    endpoint: `http://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    bucket,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    dir,
    get proc() {
      return proc;
    },
    kill: stopProc,
    async restart() {
      await stopProc();
      ({ proc } = await launch(dir, port, bucket));
    },
    async stop() {
      await stopProc();
      rmSync(dir, { recursive: true, force: true });
    },
    storageConfig(driver = 'S3Storage', storagePath = '/registry') {
      if (driver === 'RadosGWStorage') {
        return {
          hostname: '127.0.0.1',
          port,
          is_secure: false,
          access_key: 'S3RVER',
          secret_key: 'S3RVER',
          bucket_name: bucket,
          storage_path: storagePath,
        };
      }
      return {
        host: 'http://127.0.0.1',
        port,
        s3_bucket: bucket,
        s3_access_key: 'S3RVER',
        s3_secret_key: 'S3RVER',
        s3_region: 'us-east-1',
        storage_path: storagePath,
      };
    },
  } as S3Server;
  return server;
}
