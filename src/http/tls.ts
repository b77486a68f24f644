// HTTPS: the certificate and key from TLS_CERT_FILE / TLS_KEY_FILE, reloaded when either file changes,
// and an optional plain-HTTP listener (HTTP_LISTEN) next to it for local clients.
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import http from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { registryClientError } from './registry/edge-errors.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export function readTls(files: TlsFiles): { cert: Buffer; key: Buffer } {
  try {
    return { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  } catch (e) {
    throw new Error(
      `cannot read TLS certificate or key: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (${files.certFile}, ${files.keyFile})`,
    );
  }
}

/** Watches the files and swaps the server's certificate in place; returns a function that stops watching. */
export function watchTls(
  app: FastifyInstance,
  files: TlsFiles,
  intervalMs = 1000,
  options: object = {},
  check: (cert: Buffer, key: Buffer, where: string) => string[] = () => [],
): () => void {
  const reload = () => {
    try {
      const next = readTls(files);
      // FIPS mode: a new pair with a non-approved key is refused like a half-written one.
      const problems = check(next.cert, next.key, files.certFile);
      if (problems.length) throw new Error(problems.join('; '));
      (app.server as HttpsServer).setSecureContext({ ...next, ...options });
      app.log.info({ event: 'tls_reloaded', cert: files.certFile }, 'TLS certificate reloaded');
    } catch (e) {
      // A half-written pair (cert updated, key not yet) fails here; the old context stays until both fit.
      app.log.warn(
        { event: 'tls_reload_failed', cert: files.certFile, key: files.keyFile, reason: reloadProblem(e as Error) },
        'TLS certificate reload failed; keeping the previous one',
      );
    }
  };
  watchFile(files.certFile, { interval: intervalMs }, reload);
  watchFile(files.keyFile, { interval: intervalMs }, reload);
  return () => {
    unwatchFile(files.certFile, reload);
    unwatchFile(files.keyFile, reload);
  };
}

/** One line saying why a new pair was refused, in words before OpenSSL's code. */
export function reloadProblem(e: Error): string {
  const first = e.message.split('\n')[0];
  if (/key values mismatch/i.test(first)) return `the key does not belong to the certificate (${first})`;
  if (/PEM|no start line|bad base64|asn1|DECODER/i.test(first)) return `the certificate or key is not valid PEM (${first})`;
  return first;
}

/** Serves the same app over plain HTTP on host:port; resolves with the listening server. */
export async function listenPlainHttp(app: FastifyInstance, hostPort: string): Promise<http.Server> {
  const i = hostPort.lastIndexOf(':');
  let host = hostPort.slice(0, i) || '0.0.0.0';
  if (host.startsWith('[')) host = host.slice(1, -1);
  const server = http.createServer((req, res) => app.routing(req, res));
  server.on('clientError', registryClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(hostPort.slice(i + 1)), host, () => resolve());
  });
  return server;
}
