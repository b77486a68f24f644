// A client for an external Clair v4-compatible scanner (Clair itself, or `berth scanner serve`),
// used when SECURITY_SCANNER_V4_ENDPOINT is set: Berth keeps its durable queue and sends each
// manifest as Clair's Manifest with layer URIs pointing at Berth's own /v2 blob URLs, which the
// scanner fetches with each layer's `headers` (with accounts on: a short-lived registry token that
// grants pull on that one repository); every request carries an HS256 JWT signed with
// SECURITY_SCANNER_V4_PSK, as Quay's.
import type { ClairIndexReport, ClairManifest, ClairVulnerabilityReport } from './clair.js';
import { signPskToken } from './clair-api/auth.js';

export class RemoteScannerError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export class RemoteScanner {
  constructor(
    readonly endpoint: string,
    private readonly psk?: string,
    private readonly timeoutMs = 600_000,
  ) {}

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.psk) headers.authorization = `Bearer ${await signPskToken(this.psk, 'quay')}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await fetch(`${this.endpoint.replace(/\/$/, '')}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new RemoteScannerError(`scanner ${this.endpoint}: ${(e as Error).message}`);
    }
  }

  private async json<T>(res: Response, what: string): Promise<T> {
    const text = await res.text();
    if (!res.ok) throw new RemoteScannerError(`scanner ${what}: HTTP ${res.status}: ${text.slice(0, 300)}`, res.status);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new RemoteScannerError(`scanner ${what}: the answer is not JSON`);
    }
  }

  async index(m: ClairManifest): Promise<ClairIndexReport> {
    return this.json(await this.request('POST', '/indexer/api/v1/index_report', m), 'index_report');
  }

  async indexReport(digest: string): Promise<ClairIndexReport | undefined> {
    const res = await this.request('GET', `/indexer/api/v1/index_report/${digest}`);
    if (res.status === 404) return undefined;
    return this.json(res, 'index_report');
  }

  async vulnerabilityReport(digest: string): Promise<ClairVulnerabilityReport | undefined> {
    const res = await this.request('GET', `/matcher/api/v1/vulnerability_report/${digest}`);
    if (res.status === 404) return undefined;
    return this.json(res, 'vulnerability_report');
  }

  async indexState(): Promise<string> {
    return (await this.json<{ state: string }>(await this.request('GET', '/indexer/api/v1/index_state'), 'index_state')).state;
  }

  async deleteIndexReport(digest: string): Promise<void> {
    const res = await this.request('DELETE', `/indexer/api/v1/index_report/${digest}`);
    if (!res.ok && res.status !== 404) throw new RemoteScannerError(`scanner delete: HTTP ${res.status}`, res.status);
  }
}
