// One manifest classifier (src/oci/manifest-kind.ts): the artifact policy, the manifest page
// (/api/v1/repository/{name}/manifest/{digest}), the tag list's summaries (/api/v1/manifestsummary), the tag
// list's is_manifest_list and the scanner all call a manifest the same kind. Pushed over /v2 on a real server.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { pushBlob, putManifest, type Pushed } from './helpers/registry-client.ts';
import { classifyManifest } from '../src/oci/manifest-kind.ts';
import { buildArtifactPolicy, decideArtifact } from '../src/oci/artifact-policy.ts';
import { parseManifest } from '../src/oci/manifest.ts';

// Media types as the specs and tools define them (not imported from the code under test).
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';

type Kind = 'image' | 'index' | 'helm-chart' | 'artifact';
interface Blobs {
  config: Pushed;
  helm: Pushed;
  layer: Pushed;
  empty: Pushed;
  other: Pushed;
  image: { digest: string; size: number };
}
const d = (mediaType: string, p: { digest: string; size: number }) => ({ mediaType, digest: p.digest, size: p.size });
const m = (config: object, layers: object[], extra: object = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config,
  layers,
  ...extra,
});

const CASES: { name: string; kind: Kind; contentType?: string; manifest: (b: Blobs) => object }[] = [
  { name: 'OCI image', kind: 'image', manifest: (b) => m(d(OCI_CONFIG, b.config), [d(OCI_LAYER, b.layer)]) },
  { name: 'OCI image, zstd layer', kind: 'image', manifest: (b) => m(d(OCI_CONFIG, b.config), [d(OCI_LAYER_ZSTD, b.layer)]) },
  {
    name: 'Docker image',
    kind: 'image',
    contentType: DOCKER_MANIFEST,
    manifest: (b) => ({
      schemaVersion: 2,
      mediaType: DOCKER_MANIFEST,
      config: d(DOCKER_CONFIG, b.config),
      layers: [d(DOCKER_LAYER, b.layer)],
    }),
  },
  {
    name: 'image index',
    kind: 'index',
    contentType: OCI_INDEX,
    manifest: (b) => ({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ ...d(OCI_MANIFEST, b.image), platform: { os: 'linux', architecture: 'amd64' } }],
    }),
  },
  {
    name: 'Helm chart',
    kind: 'helm-chart',
    manifest: (b) => ({ schemaVersion: 2, config: d(HELM_CONFIG, b.helm), layers: [d(HELM_CHART, b.other)] }),
  },
  {
    name: 'cosign signature (image config, signature layer)',
    kind: 'artifact',
    manifest: (b) => m(d(OCI_CONFIG, b.config), [d('application/vnd.dev.cosign.simplesigning.v1+json', b.other)]),
  },
  {
    name: 'image config with an artifactType',
    kind: 'artifact',
    manifest: (b) => m(d(OCI_CONFIG, b.config), [d(OCI_LAYER, b.layer)], { artifactType: 'application/vnd.example.thing.v1' }),
  },
  {
    name: 'SBOM (OCI 1.1, empty config)',
    kind: 'artifact',
    manifest: (b) => m(d(OCI_EMPTY, b.empty), [d('application/spdx+json', b.other)], { artifactType: 'application/spdx+json' }),
  },
];

test('the classifier and the artifact policy agree on every case', () => {
  const policy = buildArtifactPolicy({ allowed: { '*': ['*'] } });
  const blobs = new Proxy({}, { get: () => ({ digest: `sha256:${'1'.repeat(64)}`, size: 2 }) }) as Blobs;
  for (const c of CASES) {
    const body = Buffer.from(JSON.stringify(c.manifest(blobs)));
    const parsed = parseManifest(body, c.contentType ?? OCI_MANIFEST);
    assert.equal(classifyManifest(parsed), c.kind, c.name);
    const decision = decideArtifact(parsed, policy);
    assert.ok(decision.accept, c.name);
    assert.equal(decision.kind === 'helm' ? 'helm-chart' : decision.kind, c.kind, `${c.name}: policy`);
  }
});

for (const dialect of await testDialects()) {
  describe(`manifest kind: every view agrees (${dialect})`, () => {
    let s: TestServer;
    const repo = 'kinds/all';
    const pushed: { name: string; kind: Kind; digest: string; tag: string }[] = [];

    before(async () => {
      s = await startServer(dialect);
      const b: Blobs = {
        config: await pushBlob(
          s.url,
          repo,
          JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
        ),
        helm: await pushBlob(s.url, repo, JSON.stringify({ name: 'demo', version: '1.0.0', apiVersion: 'v2' })),
        layer: await pushBlob(s.url, repo, gzipSync(Buffer.alloc(1024))),
        empty: await pushBlob(s.url, repo, '{}'),
        other: await pushBlob(s.url, repo, 'not a tar'),
        image: { digest: '', size: 0 },
      };
      for (const [i, c] of CASES.entries()) {
        const body = Buffer.from(JSON.stringify(c.manifest(b)));
        const r = await putManifest(s.url, repo, `t${i}`, body, c.contentType ?? OCI_MANIFEST);
        assert.equal(r.status, 201, `${c.name}: ${await r.text()}`);
        const digest = r.headers.get('docker-content-digest')!;
        if (i === 0) b.image = { digest, size: body.length };
        pushed.push({ name: c.name, kind: c.kind, digest, tag: `t${i}` });
      }
    });
    after(async () => {
      await s?.stop();
    });

    test('manifest page, tag-list summary, is_manifest_list and the scanner say the same kind', async () => {
      const q = new URLSearchParams({ repository: repo });
      for (const p of pushed) q.append('digest', p.digest);
      const summaries = (await (await fetch(`${s.url}/api/v1/manifestsummary?${q}`)).json()) as {
        manifests: Record<string, { kind: string }>;
      };
      const tags = (await (await fetch(`${s.url}/api/v1/repository/${repo}/tag/?limit=100`)).json()) as {
        tags: { name: string; is_manifest_list: boolean }[];
      };
      for (const p of pushed) {
        const page = (await (await fetch(`${s.url}/api/v1/repository/${repo}/manifest/${p.digest}`)).json()) as {
          artifact: { kind: string };
        };
        assert.equal(page.artifact.kind, p.kind, `${p.name}: manifest page`);
        assert.equal(summaries.manifests[p.digest]?.kind, p.kind, `${p.name}: summary`);
        assert.equal(tags.tags.find((t) => t.name === p.tag)?.is_manifest_list, p.kind === 'index', `${p.name}: tag list`);
        const scan = await s.berth.scanner!.service.indexStored(p.digest, repo);
        const scannerKind =
          scan.state === 'indexed' || !/^(not a container image|an image index)/.test(scan.reason)
            ? 'image'
            : /^an image index/.test(scan.reason)
              ? 'index'
              : /a Helm chart/.test(scan.reason)
                ? 'helm-chart'
                : 'artifact';
        assert.equal(scannerKind, p.kind, `${p.name}: scanner (${JSON.stringify(scan)})`);
      }
    });
  });
}
