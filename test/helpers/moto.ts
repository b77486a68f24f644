// A second, stricter S3-compatible server for the storage contract when it is installed: moto's server mode
// (`pip install 'moto[server]'`), run as a separate process. Unlike s3rver it has UploadPartCopy,
// ListMultipartUploads and AbortMultipartUpload, and refuses parts under 5 MiB, like Amazon S3.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from './server.ts';
import { which } from './exec.ts';

export const MOTO_SERVER = which('moto_server');

export interface MotoServer {
  endpoint: string;
  bucket: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export async function startMotoServer(bucket = 'berth-moto'): Promise<MotoServer> {
  if (!MOTO_SERVER) throw new Error('moto_server is not installed');
  const port = await freePort();
  const env = { ...process.env };
  delete env.OPENSSL_CONF;
  const proc = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${endpoint}/`).then(
      (r) => r.status < 500,
      () => false,
    );
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`moto_server did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    endpoint,
    bucket,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
