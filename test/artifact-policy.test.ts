// Which artifacts the registry accepts: images always; Helm charts, signatures, SBOMs, in-toto, OPA bundles and
// OCI 1.1 artifacts by FEATURE_GENERAL_OCI_SUPPORT / FEATURE_HELM_OCI_SUPPORT / ALLOWED_OCI_ARTIFACT_TYPES.
// Pushed with raw HTTP and with skopeo, switches on and off, on every database dialect.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { pushBlob, putManifest, type Pushed } from './helpers/registry-client.ts';
import { ContainerSandbox, which } from './helpers/exec.ts';

// Media types as the specs and tools define them (not imported from the code under test).
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip';
const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
const HELM_CHART = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const HELM_LEGACY = 'application/tar+gzip';
const HELM_PROV = 'application/vnd.cncf.helm.chart.provenance.v1.prov';

type Kind = 'image' | 'helm' | 'general' | 'custom' | 'refused';
interface Case {
  name: string;
  kind: Kind;
  manifest: (b: Pushed, empty: Pushed) => Record<string, unknown>;
  contentType?: string;
  refusal?: RegExp;
}

const d = (mediaType: string, p: Pushed) => ({ mediaType, digest: p.digest, size: p.size });
const art = (config: Record<string, unknown>, layers: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
  schemaVersion: 2,
  mediaType: OCI_MANIFEST,
  config,
  layers,
  ...extra,
});

const CASES: Case[] = [
  { name: 'OCI image', kind: 'image', manifest: (b) => art(d(OCI_CONFIG, b), [d(OCI_LAYER, b)]) },
  {
    name: 'Docker image',
    kind: 'image',
    contentType: DOCKER_MANIFEST,
    manifest: (b) => ({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: d(DOCKER_CONFIG, b), layers: [d(DOCKER_LAYER, b)] }),
  },
  {
    name: 'Helm chart without mediaType (as Helm writes it)',
    kind: 'helm',
    manifest: (b) => ({ schemaVersion: 2, config: d(HELM_CONFIG, b), layers: [d(HELM_CHART, b)] }),
  },
  { name: 'Helm chart, legacy layer', kind: 'helm', manifest: (b) => art(d(HELM_CONFIG, b), [d(HELM_LEGACY, b)]) },
  { name: 'Helm chart with provenance', kind: 'helm', manifest: (b) => art(d(HELM_CONFIG, b), [d(HELM_CHART, b), d(HELM_PROV, b)]) },
  {
    name: 'cosign signature',
    kind: 'general',
    manifest: (b) => art(d(OCI_CONFIG, b), [d('application/vnd.dev.cosign.simplesigning.v1+json', b)]),
  },
  { name: 'cosign attestation', kind: 'general', manifest: (b) => art(d(OCI_CONFIG, b), [d('application/vnd.dsse.envelope.v1+json', b)]) },
  {
    name: 'SPDX SBOM (OCI 1.1)',
    kind: 'general',
    manifest: (b, e) => art(d(OCI_EMPTY, e), [d('application/spdx+json', b)], { artifactType: 'application/spdx+json' }),
  },
  { name: 'CycloneDX SBOM', kind: 'general', manifest: (b) => art(d(OCI_CONFIG, b), [d('application/vnd.cyclonedx+json', b)]) },
  {
    name: 'in-toto statement (OCI 1.1)',
    kind: 'general',
    manifest: (b, e) => art(d(OCI_EMPTY, e), [d('application/vnd.in-toto+json', b)], { artifactType: 'application/vnd.in-toto+json' }),
  },
  {
    name: 'OPA bundle',
    kind: 'general',
    manifest: (b) =>
      art(d('application/vnd.cncf.openpolicyagent.config.v1+json', b), [d('application/vnd.cncf.openpolicyagent.policy.layer.v1+rego', b)]),
  },
  {
    name: 'OCI 1.1 artifact, empty config',
    kind: 'general',
    manifest: (b, e) => art(d(OCI_EMPTY, e), [d('application/octet-stream', b)], { artifactType: 'application/vnd.example.thing.v1' }),
  },
  // A team's own config type (oras push --config cfg.json:application/vnd.example…): accepted unless ALLOWED_OCI_ARTIFACT_TYPES restricts.
  {
    name: 'unknown config type',
    kind: 'custom',
    refusal: /application\/vnd\.example\.unknown\.config\.v1\+json.*ALLOWED_OCI_ARTIFACT_TYPES/,
    manifest: (b) => art(d('application/vnd.example.unknown.config.v1+json', b), [d('application/vnd.example.layer', b)]),
  },
  {
    name: 'Helm config with a foreign layer',
    kind: 'refused',
    refusal: /application\/zip.*ALLOWED_OCI_ARTIFACT_TYPES\["application\/vnd\.cncf\.helm\.config\.v1\+json"\]/,
    manifest: (b) => art(d(HELM_CONFIG, b), [d('application/zip', b)]),
  },
  {
    name: 'empty config without artifactType',
    kind: 'refused',
    refusal: /artifactType/,
    manifest: (b, e) => art(d(OCI_EMPTY, e), [d('application/octet-stream', b)]),
  },
];

interface Switches {
  label: string;
  config: Record<string, unknown>;
  accepts: (c: Case) => boolean;
  refusal?: (c: Case) => RegExp;
}

const SWITCHES: Switches[] = [
  { label: 'defaults (both switches on)', config: {}, accepts: (c) => c.kind !== 'refused', refusal: (c) => c.refusal! },
  {
    label: 'FEATURE_GENERAL_OCI_SUPPORT: false',
    config: { FEATURE_GENERAL_OCI_SUPPORT: false },
    accepts: (c) => c.kind === 'image' || c.kind === 'helm',
    refusal: (c) => (c.kind === 'refused' && c.name.startsWith('Helm') ? c.refusal! : /FEATURE_GENERAL_OCI_SUPPORT: true/),
  },
  {
    label: 'ALLOWED_OCI_ARTIFACT_TYPES set (only the listed types, here the built-in entries)',
    config: { ALLOWED_OCI_ARTIFACT_TYPES: {} },
    accepts: (c) => c.kind !== 'refused' && c.kind !== 'custom',
    refusal: (c) => c.refusal!,
  },
  {
    label: 'FEATURE_HELM_OCI_SUPPORT: false',
    config: { FEATURE_HELM_OCI_SUPPORT: false },
    accepts: (c) => c.kind === 'image' || c.kind === 'general' || c.kind === 'custom',
    refusal: (c) => (c.kind === 'helm' || c.name.startsWith('Helm') ? /FEATURE_HELM_OCI_SUPPORT: true/ : c.refusal!),
  },
  {
    label: 'both switches off',
    config: { FEATURE_GENERAL_OCI_SUPPORT: false, FEATURE_HELM_OCI_SUPPORT: false },
    accepts: (c) => c.kind === 'image',
    refusal: (c) => (c.kind === 'helm' || c.name.startsWith('Helm') ? /FEATURE_HELM_OCI_SUPPORT/ : /FEATURE_GENERAL_OCI_SUPPORT/),
  },
];

for (const dialect of await testDialects()) {
  for (const sw of SWITCHES) {
    describe(`[${dialect}] ${sw.label}`, () => {
      let s: TestServer;
      before(async () => {
        s = await startServer(dialect, {}, { config: sw.config });
      });
      after(async () => {
        await s?.stop();
      });

      test('each artifact type is accepted or refused with MANIFEST_INVALID naming the media type and the config key', async () => {
        let i = 0;
        for (const c of CASES) {
          const repo = `policy/case${i++}`;
          const blob = await pushBlob(s.url, repo, `content of ${c.name}`);
          const empty = await pushBlob(s.url, repo, '{}');
          const body = Buffer.from(JSON.stringify(c.manifest(blob, empty)));
          const r = await putManifest(s.url, repo, 'v1', body, c.contentType ?? OCI_MANIFEST);
          const text = await r.text();
          if (sw.accepts(c)) {
            assert.equal(r.status, 201, `${c.name}: ${text}`);
            const g = await fetch(`${s.url}/v2/${repo}/manifests/v1`);
            assert.equal(g.status, 200);
            // A manifest without mediaType is served with the type it was pushed as.
            assert.equal(g.headers.get('content-type'), c.contentType ?? OCI_MANIFEST, c.name);
            assert.deepEqual(Buffer.from(await g.arrayBuffer()), body);
          } else {
            assert.equal(r.status, 400, `${c.name}: expected a refusal, got ${r.status} ${text}`);
            const e = JSON.parse(text).errors[0];
            assert.equal(e.code, 'MANIFEST_INVALID', c.name);
            assert.match(e.message, sw.refusal!(c), `${c.name}: ${e.message}`);
            assert.ok(e.detail?.mediaType && e.detail?.configKey, `${c.name}: detail names the media type and key`);
            // A refusal changes nothing: the tag does not exist.
            assert.equal((await fetch(`${s.url}/v2/${repo}/manifests/v1`)).status, 404);
          }
        }
      });
    });
  }

  describe(`[${dialect}] ALLOWED_OCI_ARTIFACT_TYPES from config`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer(
        dialect,
        {},
        {
          config: {
            ALLOWED_OCI_ARTIFACT_TYPES: {
              'application/vnd.example.unknown.config.v1+json': ['application/vnd.example.layer'],
              [OCI_EMPTY]: null,
              [HELM_CONFIG]: [HELM_CHART],
            },
          },
        },
      );
    });
    after(async () => {
      await s?.stop();
    });

    test('a listed type is accepted; a removed or narrowed default is refused', async () => {
      const expect = async (name: string, m: (b: Pushed, e: Pushed) => Record<string, unknown>, status: number, msg?: RegExp) => {
        const repo = `custom/${name}`;
        const b = await pushBlob(s.url, repo, `x-${name}`);
        const e = await pushBlob(s.url, repo, '{}');
        const r = await putManifest(s.url, repo, 'v1', Buffer.from(JSON.stringify(m(b, e))));
        const text = await r.text();
        assert.equal(r.status, status, `${name}: ${text}`);
        if (msg) assert.match(JSON.parse(text).errors[0].message, msg);
      };
      await expect(
        'listed',
        (b) => art(d('application/vnd.example.unknown.config.v1+json', b), [d('application/vnd.example.layer', b)]),
        201,
      );
      await expect(
        'empty-removed',
        (b, e) => art(d(OCI_EMPTY, e), [d('application/octet-stream', b)], { artifactType: 'application/vnd.example.thing.v1' }),
        400,
        /application\/vnd\.oci\.empty\.v1\+json.*ALLOWED_OCI_ARTIFACT_TYPES/,
      );
      await expect('helm-narrowed', (b) => art(d(HELM_CONFIG, b), [d(HELM_LEGACY, b)]), 400, /application\/tar\+gzip/);
      await expect('helm-ok', (b) => art(d(HELM_CONFIG, b), [d(HELM_CHART, b)]), 201);
      await expect('image', (b) => art(d(OCI_CONFIG, b), [d(OCI_LAYER, b)]), 201);
    });
  });
}

// (the skip is on each test: Node 20 does not count a skipped describe)
const skopeoSkip = !which('skopeo') && 'skopeo is not installed (apt-get install skopeo)';
describe('skopeo copies artifacts: accepted with the switch on, refused with the message when off or not listed', () => {
  const sb = new ContainerSandbox('berth-artifacts-');
  let on: TestServer;
  let off: TestServer;
  let listed: TestServer;
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  /** An OCI layout holding one artifact manifest under the tag "v1". */
  function layout(
    config: { mediaType: string; data: Buffer },
    layers: { mediaType: string; data: Buffer }[],
    extra: Record<string, unknown> = {},
  ): string {
    const dir = sb.mkdir('layout');
    mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
    const put = (b: Buffer) => {
      const h = sha(b);
      writeFileSync(path.join(dir, 'blobs', 'sha256', h), b);
      return `sha256:${h}`;
    };
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        ...extra,
        config: { mediaType: config.mediaType, digest: put(config.data), size: config.data.length },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: put(l.data), size: l.data.length })),
      }),
    );
    const md = put(manifest);
    writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(
      path.join(dir, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          { mediaType: OCI_MANIFEST, digest: md, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'v1' } },
        ],
      }),
    );
    return dir;
  }

  before(async () => {
    on = await startServer('sqlite');
    off = await startServer('sqlite', {}, { config: { FEATURE_GENERAL_OCI_SUPPORT: false, FEATURE_HELM_OCI_SUPPORT: false } });
    listed = await startServer(
      'sqlite',
      {},
      { config: { ALLOWED_OCI_ARTIFACT_TYPES: { 'application/vnd.example.other.config.v1+json': ['*'] } } },
    );
  });
  after(async () => {
    await on?.stop();
    await off?.stop();
    await listed?.stop();
  });

  const artifacts = () => ({
    helm: layout({ mediaType: HELM_CONFIG, data: Buffer.from('{"name":"demo","version":"0.1.0","apiVersion":"v2"}') }, [
      { mediaType: HELM_CHART, data: Buffer.from('not really a tgz but bytes') },
    ]),
    sbom: layout(
      { mediaType: OCI_EMPTY, data: Buffer.from('{}') },
      [{ mediaType: 'application/spdx+json', data: Buffer.from('{"spdxVersion":"SPDX-2.3"}') }],
      { artifactType: 'application/spdx+json' },
    ),
    unknown: layout({ mediaType: 'application/vnd.example.unknown.config.v1+json', data: Buffer.from('{}') }, [
      { mediaType: 'application/vnd.example.layer', data: Buffer.from('x') },
    ]),
  });

  test('with the defaults, Helm charts, SBOMs and a config type of its own copy and read back byte for byte; unlisted types are refused once ALLOWED_OCI_ARTIFACT_TYPES is set', {
    skip: skopeoSkip,
  }, async () => {
    const a = artifacts();
    const host = new URL(on.url).host;
    for (const k of ['helm', 'sbom', 'unknown'] as const) {
      await sb.skopeo(['copy', '--dest-tls-verify=false', `oci:${a[k]}:v1`, `docker://${host}/skopeo/${k}:v1`]);
      const raw = await sb.skopeo(['inspect', '--tls-verify=false', '--raw', `docker://${host}/skopeo/${k}:v1`]);
      const want = JSON.parse(readFileSync(path.join(a[k], 'index.json'), 'utf8')).manifests[0].digest;
      assert.equal(`sha256:${sha(raw.stdoutBytes)}`, want, `${k}: the manifest reads back byte for byte`);
    }
    const bad = await sb.try('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${a.unknown}:v1`,
      `docker://${new URL(listed.url).host}/skopeo/unknown:v1`,
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /ALLOWED_OCI_ARTIFACT_TYPES/);
  });

  test('with both switches off, skopeo shows which key to change', { skip: skopeoSkip }, async () => {
    const a = artifacts();
    const host = new URL(off.url).host;
    const helm = await sb.try('skopeo', ['copy', '--dest-tls-verify=false', `oci:${a.helm}:v1`, `docker://${host}/skopeo/helm:v1`]);
    assert.notEqual(helm.code, 0);
    assert.match(helm.stderr, /FEATURE_HELM_OCI_SUPPORT/);
    const sbom = await sb.try('skopeo', ['copy', '--dest-tls-verify=false', `oci:${a.sbom}:v1`, `docker://${host}/skopeo/sbom:v1`]);
    assert.notEqual(sbom.code, 0);
    assert.match(sbom.stderr, /FEATURE_GENERAL_OCI_SUPPORT/);
  });
});
