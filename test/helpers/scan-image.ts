// A small Debian image the real scanner recognises, and vulnerability data for it brought in the way
// an air-gapped Berth gets it (a real bundle, exported and imported): for the metrics tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import type { DB, Dialect } from '../../src/db/database.ts';
import { exportBundle } from '../../src/scanner/bundle/export.ts';
import { importBundle } from '../../src/scanner/bundle/import.ts';
import type { Advisory, Severity } from '../../src/scanner/model.ts';
import { imageManifest, pushBlob, putManifest } from './registry-client.ts';

/** A gzip'd tar layer with these files. */
export async function tarLayer(files: Record<string, string>): Promise<Buffer> {
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) out.push(c);
  })();
  for (const [name, data] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, mode: 0o644 }, Buffer.from(data), (e) => (e ? reject(e) : resolve())));
  }
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(out));
}

/** Debian 12 with libfoo 1.0-1 and libbar 2.0-1 installed. */
export function debianLayer(): Promise<Buffer> {
  const pkg = (name: string, version: string) =>
    `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: ${version}\n`;
  return tarLayer({
    'etc/os-release':
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n',
    'var/lib/dpkg/status': `${pkg('libfoo', '1.0-1')}\n${pkg('libbar', '2.0-1')}\n`,
  });
}

/** Pushes an image with these layers; returns the manifest digest. */
export async function pushLayers(url: string, repo: string, tag: string, layers: Buffer[]): Promise<string> {
  const config = await pushBlob(
    url,
    repo,
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, tag }),
  );
  const pushed = [];
  for (const l of layers) pushed.push(await pushBlob(url, repo, l));
  const r = await putManifest(url, repo, tag, imageManifest(config, pushed));
  if (r.status !== 201) throw new Error(`manifest push ${r.status}: ${await r.text()}`);
  return r.headers.get('docker-content-digest')!;
}

function advisory(id: string, pkg: string, fixed: string, severity: Severity): Advisory {
  return {
    updater: 'metrics-debian',
    id,
    aliases: [],
    ecosystem: 'dpkg',
    distribution: { id: 'debian', versionId: '12' },
    package: pkg,
    packageKind: 'source',
    ranges: [[{ introduced: '0' }, { fixed }]],
    fixedIn: fixed,
    severity,
    links: [],
    description: `${id} in ${pkg}`,
  };
}

/** What debianLayer() is vulnerable to, by severity (one High and one Critical in libfoo; libbar's Low is fixed). */
export const DEBIAN_FINDINGS: Partial<Record<Severity, number>> = { High: 1, Critical: 1 };

/**
 * Exports a bundle of updater `metrics-debian` whose data was fetched `ageSeconds` ago, and imports
 * it into the database (as `berth scanner import-updaters` does).
 */
export async function importDebianAdvisories(db: DB, dialect: Dialect, ageSeconds = 0): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-metrics-bundle-'));
  try {
    const file = path.join(dir, 'b.gz');
    async function* records(): AsyncGenerator<Advisory> {
      yield advisory('CVE-2099-0001', 'libfoo', '1.0-2', 'High');
      yield advisory('CVE-2099-0002', 'libfoo', '1.1-1', 'Critical');
      yield advisory('CVE-2099-0003', 'libbar', '1.5-1', 'Low');
    }
    await exportBundle(file, [
      { name: 'metrics-debian', fingerprint: `fp-${ageSeconds}`, fetchedAt: Date.now() - ageSeconds * 1000, records: records() },
    ]);
    await importBundle(db, dialect, file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
