// A real redis-server of the test's own, on a random free port (tests never share or flush the machine's Redis).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './server.ts';

export interface TestRedis {
  port: number;
  /** Quay's redis_config.primary for this server. */
  primary: { host: string; port: number };
  proc: ChildProcess;
  /** SIGKILLs the server and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port (after kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function redisServerMissing(): string | undefined {
  return spawnSync('redis-server', ['--version']).status === 0 ? undefined : 'redis-server is not installed (Debian package redis-server)';
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-redis-'));
  const launch = async (): Promise<ChildProcess> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      proc.stdout!.on('data', (d) => {
        out += d;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(t);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`redis-server exited ${code}: ${out}`));
      });
    });
    proc.stdout!.resume();
    return proc;
  };
  const r: TestRedis = {
    port,
    primary: { host: '127.0.0.1', port },
    proc: await launch(),
    async kill() {
      if (r.proc.exitCode !== null || r.proc.signalCode) return;
      const gone = new Promise((res) => r.proc.once('exit', res));
      r.proc.kill('SIGKILL');
      await gone;
    },
    async restart() {
      r.proc = await launch();
    },
    async stop() {
      await r.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return r;
}
