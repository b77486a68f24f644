// The scale-out topology of docs/SCALE-OUT.md, from real parts, for test/scale-out.test.ts and
// bench/scale-out.mjs: N `berth serve` processes on one PostgreSQL database, one blob store, one Redis
// (our own redis-server on a random port), behind nginx (round robin, no request buffering, no body limit,
// proxy_next_upstream for idempotent requests), each on random free ports.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { createPostgresDatabase } from './databases.ts';
import { startRedis, type TestRedis } from './redis.ts';
import { startS3Server, type S3Server } from './s3rver.ts';
import { BERTH_BIN, freePort } from './server.ts';

export interface ReplicaProcess {
  index: number;
  port: number;
  url: string;
  proc?: ChildProcess;
  output: string;
  exited?: Promise<number | null>;
}

export interface TopologyOptions {
  replicas: number;
  /** Our own redis-server for DATA_MODEL_CACHE_CONFIG and PULL_METRICS_REDIS (default true). */
  redis?: boolean;
  /** Blobs in an S3-compatible server (s3rver, its own process; 307 redirects to presigned URLs), or one shared directory. */
  storage?: 's3' | 'local';
  /** Extra config.yaml keys. */
  config?: Record<string, unknown>;
  admin?: [string, string];
}

export function nginxMissing(): string | undefined {
  return spawnSync('nginx', ['-v']).status === 0 ? undefined : 'nginx is not installed (Debian package nginx)';
}

/** The nginx.conf of docs/SCALE-OUT.md for these replica ports. */
export function nginxConfig(o: { listenPort: number; replicaPorts: number[]; prefix: string }): string {
  const root = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${root}worker_processes 1;
daemon off;
pid ${o.prefix}/nginx.pid;
error_log ${o.prefix}/error.log warn;
events { worker_connections 1024; }
http {
  log_format upstreams '$request_method $request_uri $status $upstream_addr $upstream_status';
  access_log ${o.prefix}/access.log upstreams;
  client_body_temp_path ${o.prefix}/body;
  proxy_temp_path ${o.prefix}/proxy;
  fastcgi_temp_path ${o.prefix}/fastcgi;
  uwsgi_temp_path ${o.prefix}/uwsgi;
  scgi_temp_path ${o.prefix}/scgi;
  upstream berth {
${o.replicaPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${o.listenPort};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_connect_timeout 2s;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries 3;
    location / { proxy_pass http://berth; }
  }
}
`;
}

export class Topology {
  readonly replicas: ReplicaProcess[] = [];
  redis?: TestRedis;
  s3?: S3Server;
  db!: { uri: string; drop(): Promise<void> };
  nginx?: ChildProcess;
  nginxPort = 0;
  readonly dir: string;
  readonly storagePath: string;
  readonly configFile: string;
  readonly admin: [string, string];

  private constructor(readonly opts: TopologyOptions) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'berth-scale-out-'));
    this.storagePath = path.join(this.dir, 'blobs');
    this.configFile = path.join(this.dir, 'config.yaml');
    this.admin = opts.admin ?? ['admin', 'admin-password-1'];
  }

  /** nginx's address: what clients use (and SERVER_HOSTNAME, so token realms point through it). */
  get host(): string {
    return `127.0.0.1:${this.nginxPort}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  static async start(opts: TopologyOptions): Promise<Topology> {
    const t = new Topology(opts);
    try {
      await t.init();
    } catch (e) {
      await t.stop();
      throw e;
    }
    return t;
  }

  private async init(): Promise<void> {
    this.db = await createPostgresDatabase();
    if (this.opts.redis !== false) this.redis = await startRedis();
    if (this.opts.storage === 's3') this.s3 = await startS3Server();
    this.nginxPort = await freePort();
    for (let i = 0; i < this.opts.replicas; i++) {
      const port = await freePort();
      this.replicas.push({ index: i, port, url: `http://127.0.0.1:${port}`, output: '' });
    }
    const doc: Record<string, unknown> = {
      AUTHENTICATION_TYPE: 'Database',
      SERVER_HOSTNAME: this.host,
      DB_URI: this.db.uri,
      BOOTSTRAP_ADMIN: { username: this.admin[0], password: this.admin[1] },
      PBKDF2_ITERATIONS: 1000,
      // Every replica seals and opens the signing keys in the database with the same key.
      DATABASE_SECRET_KEY: randomBytes(32).toString('hex'),
      LOGIN_FAILURE_LIMIT: 100_000,
      DISTRIBUTED_STORAGE_CONFIG: this.s3
        ? { default: ['S3Storage', this.s3.storageConfig('S3Storage')] }
        : { local: ['LocalStorage', { storage_path: this.storagePath }] },
      // nginx is the one proxy in front (branch edge's key; ignored by a Berth without it).
      TRUSTED_PROXIES: ['127.0.0.1/32'],
      METRICS_ROW_COUNT_INTERVAL_SECONDS: 1,
      SHUTDOWN_GRACE_SECONDS: 30,
      ...(this.redis
        ? {
            DATA_MODEL_CACHE_CONFIG: { engine: 'redis', redis_config: { primary: this.redis.primary } },
            PULL_METRICS_REDIS: this.redis.primary,
          }
        : {}),
      ...this.opts.config,
    };
    writeFileSync(this.configFile, stringifyYaml(doc));
    // The first replica migrates the database alone; the others start together.
    await this.startReplica(0);
    await Promise.all(this.replicas.slice(1).map((r) => this.startReplica(r.index)));
    await this.startNginx();
  }

  private async startNginx(): Promise<void> {
    const prefix = path.join(this.dir, 'nginx');
    for (const d of ['', 'body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(prefix, d), { recursive: true });
    const conf = path.join(prefix, 'nginx.conf');
    writeFileSync(conf, nginxConfig({ listenPort: this.nginxPort, replicaPorts: this.replicas.map((r) => r.port), prefix }));
    this.nginx = spawn('nginx', ['-p', prefix, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    this.nginx.stderr!.on('data', (d) => (out += d));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await fetch(`${this.url}/v2/`).catch(() => undefined);
      if (r) {
        await r.arrayBuffer();
        return;
      }
      if (this.nginx.exitCode !== null) throw new Error(`nginx exited ${this.nginx.exitCode}: ${out}`);
      if (Date.now() > deadline) throw new Error(`nginx did not start: ${out}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** nginx's access log: one line per request, "METHOD URI STATUS UPSTREAM(S) UPSTREAM_STATUS(ES)". */
  accessLog(): { method: string; uri: string; status: number; upstream: string; upstreamStatus: string }[] {
    let text = '';
    try {
      text = readFileSync(path.join(this.dir, 'nginx', 'access.log'), 'utf8');
    } catch {
      return [];
    }
    return text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [method, uri, status, upstream, ...rest] = l.split(' ');
        return { method, uri, status: Number(status), upstream, upstreamStatus: rest.join(' ') };
      });
  }

  async startReplica(i: number): Promise<ReplicaProcess> {
    const r = this.replicas[i];
    const data = path.join(this.dir, `replica-${i}`);
    mkdirSync(data, { recursive: true });
    const proc = spawn(
      process.execPath,
      [BERTH_BIN, 'serve', '--config', this.configFile, '--listen', `127.0.0.1:${r.port}`, '--data', data],
      {
        env: { ...process.env, BERTH_CONFIG: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    r.proc = proc;
    r.output = '';
    proc.stdout!.on('data', (d) => (r.output += d));
    proc.stderr!.on('data', (d) => (r.output += d));
    r.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (r.output.includes('listening on')) {
        const res = await fetch(`${r.url}/v2/`).catch(() => undefined);
        if (res) {
          await res.arrayBuffer();
          return r;
        }
      }
      if (proc.exitCode !== null) throw new Error(`replica ${i} exited ${proc.exitCode}: ${r.output}`);
      if (Date.now() > deadline) throw new Error(`replica ${i} did not start: ${r.output}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  /** Sends the signal and waits for the process to exit; resolves with its exit code. */
  async stopReplica(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const r = this.replicas[i];
    if (!r.proc || r.proc.exitCode !== null || r.proc.signalCode) return r.proc?.exitCode ?? null;
    r.proc.kill(signal);
    return r.exited!;
  }

  async stop(): Promise<void> {
    for (const r of this.replicas) await this.stopReplica(r.index, 'SIGKILL').catch(() => undefined);
    if (this.nginx && this.nginx.exitCode === null) {
      const gone = new Promise((res) => this.nginx!.once('exit', res));
      this.nginx.kill('SIGQUIT');
      await gone;
    }
    await this.redis?.stop();
    await this.s3?.stop();
    await this.db?.drop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
