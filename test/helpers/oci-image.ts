// Builds a tiny single-layer OCI image layout on disk for client tests (skopeo, podman, buildah).
import { mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Returns the layout directory; reference it as `oci:<dir>:latest`. */
export function makeOciLayout(label = 'hello'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-oci-'));
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const src = path.join(dir, 'src');
  mkdirSync(src);
  writeFileSync(path.join(src, 'hello.txt'), `${label} ${randomBytes(16).toString('hex')}\n`);
  execFileSync('tar', ['-cf', path.join(dir, 'layer.tar'), '-C', src, 'hello.txt']);
  const tar = readFileSync(path.join(dir, 'layer.tar'));
  execFileSync('gzip', ['-n', path.join(dir, 'layer.tar')]);
  const gz = readFileSync(path.join(dir, 'layer.tar.gz'));
  const put = (b: Buffer) => {
    const d = sha(b);
    writeFileSync(path.join(blobs, d), b);
    return `sha256:${d}`;
  };
  const layerDigest = put(gz);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha(tar)}`] },
    }),
  );
  const configDigest = put(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: gz.length }],
    }),
  );
  const manifestDigest = put(manifest);
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: manifestDigest,
          size: manifest.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ],
    }),
  );
  return dir;
}
