// The real Debian clients (skopeo, podman, buildah, umoci) push and pull images through a
// running Berth unchanged: Docker schema 2 images and manifest lists, OCI manifests and
// indexes (linux/amd64 + linux/arm64), gzip and zstd layers, one client pushing and another
// pulling. Images are built locally (no network but loopback): by hand in ./helpers/images.ts,
// or by umoci and buildah themselves.
import { describe, test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { ContainerSandbox, which } from './helpers/exec.ts';
import {
  MEDIA,
  buildImage,
  buildIndex,
  compressionOf,
  decompress,
  layerFiles,
  readDirLayout,
  readOciLayout,
  sha256,
  writeDirLayout,
  writeOciLayout,
  type BuiltImage,
  type BuiltIndex,
  type ImageFormat,
  type LayerFiles,
  type LayoutReader,
} from './helpers/images.ts';

type Tool = 'skopeo' | 'podman' | 'buildah' | 'umoci' | 'zstd';
const installed: Record<Tool, boolean> = {
  skopeo: !!which('skopeo'),
  podman: !!which('podman'),
  buildah: !!which('buildah'),
  umoci: !!which('umoci'),
  zstd: !!which('zstd'),
};

/** Skips the test (saying what to install) unless every tool is installed. */
function requires(t: TestContext, ...tools: Tool[]): boolean {
  const missing = tools.filter((x) => !installed[x]);
  if (missing.length === 0) return true;
  t.skip(`${missing.join(', ')} not installed: apt-get install ${missing.join(' ')}`);
  return false;
}

const TLS = '--tls-verify=false';
const SRC_TLS = '--src-tls-verify=false';
const DEST_TLS = '--dest-tls-verify=false';

/** Asserts the layer blob holds every file of `want` with the same bytes. */
async function assertLayerFiles(blob: Buffer, want: LayerFiles, where: string): Promise<void> {
  const got = await layerFiles(blob);
  for (const [name, content] of Object.entries(want)) {
    const data = got.get(name);
    assert.ok(data, `${where}: ${name} is missing from the layer (it has ${[...got.keys()].join(', ')})`);
    assert.equal(sha256(data), sha256(Buffer.from(content)), `${where}: ${name} has other content`);
  }
}

/** Asserts a pulled copy (OCI layout or dir:) of an image is the built image, byte for byte. */
async function assertSameImage(got: LayoutReader, manifest: Buffer, want: BuiltImage, where: string): Promise<void> {
  assert.equal(manifest.toString('utf8'), want.manifest.toString('utf8'), `${where}: manifest bytes changed`);
  assert.equal(sha256(got.blob(want.configDescriptor.digest)), want.configDescriptor.digest, `${where}: config blob`);
  for (const [i, layer] of want.layers.entries()) {
    const blob = got.blob(layer.descriptor.digest);
    assert.equal(sha256(blob), layer.descriptor.digest, `${where}: layer ${i} blob`);
    await assertLayerFiles(blob, layer.files, `${where} layer ${i}`);
  }
}

/** Files of a directory tree (for reading a mounted or unpacked root filesystem). */
function readTree(root: string, files: LayerFiles): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(files)) out[name] = sha256(readFileSync(path.join(root, name)));
  return out;
}
function hashes(files: LayerFiles): Record<string, string> {
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256(Buffer.from(v))]));
}

const RUN = randomBytes(8).toString('hex');

/**
 * A small per-platform layer. `salt` makes it unique to one test: containers/image remembers
 * (in its blob info cache) which compressed blobs a registry already holds for a given
 * uncompressed layer and mounts those instead of uploading, even when asked for another
 * compression, so a test that needs its own upload must not share layers with another test.
 */
function archFiles(arch: string, salt: string): LayerFiles {
  return {
    'etc/arch.txt': `built for linux/${arch}\n`,
    [`opt/${arch}/only-here`]: `${arch} payload ${'x'.repeat(100)}\n`,
    'etc/build-id': `${RUN}/${salt}\n`,
  };
}

interface SkopeoInspect {
  Name: string;
  Digest: string;
  RepoTags: string[];
  Architecture: string;
  Os: string;
  Layers: string[];
  Env: string[] | null;
  Labels: Record<string, string> | null;
}

interface PodmanImage {
  Id: string;
  Digest: string;
  RepoTags: string[];
  RepoDigests: string[];
  Architecture: string;
  Os: string;
  Config: { Env?: string[]; Cmd?: string[]; Labels?: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  ManifestType: string;
}

for (const dialect of await testDialects()) {
  describe(`real clients push and pull through Berth (${dialect})`, () => {
    let server: TestServer;
    let sb: ContainerSandbox;
    let host: string;
    const docker = (repo: string, ref = 'v1') => `docker://${host}/${repo}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
    const name = (repo: string, ref = 'v1') => docker(repo, ref).slice('docker://'.length);

    const skopeoRaw = async (ref: string, ...flags: string[]) => (await sb.skopeo(['inspect', TLS, '--raw', ...flags, ref])).stdoutBytes;
    const skopeoInspect = async (ref: string, ...flags: string[]) =>
      JSON.parse((await sb.skopeo(['inspect', TLS, ...flags, ref])).stdout) as SkopeoInspect;
    const podmanInspect = async (ref: string) => (JSON.parse((await sb.podman(['image', 'inspect', ref])).stdout) as PodmanImage[])[0];

    before(async () => {
      server = await startServer(dialect);
      host = new URL(server.url).host;
      sb = new ContainerSandbox(`berth-clients-${dialect}-`);
    });
    after(async () => {
      await sb?.cleanup();
      await server?.stop();
    });

    // ------------------------------------------------------------ skopeo, single images

    for (const format of ['oci', 'docker'] as ImageFormat[]) {
      const what = format === 'oci' ? 'an OCI image manifest' : 'a Docker schema 2 image';
      test(`skopeo pushes ${what} with gzip layers and pulls it back byte for byte`, async (t) => {
        if (!requires(t, 'skopeo')) return;
        const img = await buildImage({
          format,
          architecture: 'amd64',
          layers: [
            { 'etc/motd': `hello from a ${format} image\n`, 'bin/app': '#!/bin/sh\necho app\n' },
            { 'var/lib/app/blob.bin': randomBytes(1_500_000) }, // incompressible: a 1.5 MB upload
          ],
          env: ['PATH=/usr/bin:/bin', `IMAGE_FORMAT=${format}`],
          labels: { 'org.example.client': 'skopeo', 'org.example.format': format },
          annotations: { 'org.example.note': 'kept verbatim' },
        });
        const src = sb.mkdir(`src-${format}`);
        const source = format === 'oci' ? `oci:${src}:v1` : `dir:${src}`;
        if (format === 'oci') writeOciLayout(src, { v1: img });
        else writeDirLayout(src, img);
        const repo = `clients/skopeo-${format}`;

        await sb.skopeo(['copy', DEST_TLS, source, docker(repo)]);

        // The registry serves the very bytes the client pushed, by tag and by digest.
        assert.equal((await skopeoRaw(docker(repo))).toString(), img.manifest.toString());
        assert.equal((await skopeoRaw(docker(repo, img.descriptor.digest))).toString(), img.manifest.toString());
        assert.equal((await skopeoRaw(docker(repo), '--config')).toString(), img.config.toString());
        const info = await skopeoInspect(docker(repo));
        assert.equal(info.Digest, img.descriptor.digest);
        assert.deepEqual(info.RepoTags, ['v1']);
        assert.equal(info.Architecture, 'amd64');
        assert.equal(info.Os, 'linux');
        assert.deepEqual(
          info.Layers,
          img.layers.map((l) => l.descriptor.digest),
        );
        assert.ok(info.Env?.includes(`IMAGE_FORMAT=${format}`), JSON.stringify(info.Env));
        assert.deepEqual(info.Labels, { 'org.example.client': 'skopeo', 'org.example.format': format });

        // Pulled back, everything is identical.
        const out = sb.mkdir(`pull-${format}`);
        await sb.skopeo(['copy', SRC_TLS, docker(repo), format === 'oci' ? `oci:${out}:v1` : `dir:${out}`]);
        const pulled = format === 'oci' ? readOciLayout(out, 'v1') : readDirLayout(out);
        await assertSameImage(pulled, pulled.manifest, img, `pulled ${format} image`);

        // Registry to registry (another repository: a cross-repository blob mount) changes nothing.
        await sb.skopeo(['copy', SRC_TLS, DEST_TLS, docker(repo), docker(`${repo}-copy`, 'copied')]);
        assert.equal((await skopeoRaw(docker(`${repo}-copy`, 'copied'))).toString(), img.manifest.toString());
        assert.equal((await skopeoInspect(docker(`${repo}-copy`, 'copied'))).Digest, img.descriptor.digest);
      });
    }

    // ------------------------------------------------------------ skopeo, multi-arch

    for (const format of ['oci', 'docker'] as ImageFormat[]) {
      const what = format === 'oci' ? 'an OCI image index' : 'a Docker manifest list';
      test(`skopeo copy --all pushes ${what} (linux/amd64 + linux/arm64) and pulls it back unchanged`, async (t) => {
        if (!requires(t, 'skopeo')) return;
        const images: BuiltImage[] = [];
        for (const arch of ['amd64', 'arm64']) {
          images.push(
            await buildImage({
              format,
              architecture: arch,
              layers: [{ 'etc/os-release': 'ID=berth-test\n' }, archFiles(arch, `multi-${format}`)],
            }),
          );
        }
        const index = buildIndex(format, images, { 'org.example.index': 'multi-arch' });
        const src = sb.mkdir(`src-${format}-index`);
        const source = format === 'oci' ? `oci:${src}:v1` : `dir:${src}`;
        if (format === 'oci') writeOciLayout(src, { v1: index });
        else writeDirLayout(src, index);
        const repo = `clients/multi-${format}`;

        await sb.skopeo(['copy', '--all', DEST_TLS, source, docker(repo)]);

        assert.equal((await skopeoRaw(docker(repo))).toString(), index.manifest.toString());
        for (const img of images) {
          assert.equal((await skopeoRaw(docker(repo, img.descriptor.digest))).toString(), img.manifest.toString());
          const info = await skopeoInspect(docker(repo), '--override-arch', img.architecture, '--override-os', 'linux');
          assert.equal(info.Architecture, img.architecture);
          assert.deepEqual(
            info.Layers,
            img.layers.map((l) => l.descriptor.digest),
          );
        }

        // copy --all back: the index and every instance, byte for byte.
        const out = sb.mkdir(`pull-${format}-index`);
        await sb.skopeo(['copy', '--all', SRC_TLS, docker(repo), format === 'oci' ? `oci:${out}:v1` : `dir:${out}`]);
        const pulled = format === 'oci' ? readOciLayout(out, 'v1') : readDirLayout(out);
        assert.equal(pulled.manifest.toString(), index.manifest.toString());
        assert.equal(pulled.digest, index.descriptor.digest);
        for (const img of images)
          await assertSameImage(pulled, pulled.instance(img.descriptor.digest), img, `${img.architecture} instance`);

        // One platform only: the client resolves the index and gets that instance.
        const one = sb.mkdir(`pull-${format}-arm64`);
        await sb.skopeo(['copy', SRC_TLS, '--override-arch', 'arm64', '--override-os', 'linux', docker(repo), `dir:${one}`]);
        const arm = readDirLayout(one);
        await assertSameImage(arm, arm.manifest, images[1], 'arm64 only');

        // The whole index, registry to registry, keeps its digest.
        await sb.skopeo(['copy', '--all', SRC_TLS, DEST_TLS, docker(repo), docker(`${repo}-copy`)]);
        assert.equal((await skopeoRaw(docker(`${repo}-copy`))).toString(), index.manifest.toString());
      });
    }

    // ------------------------------------------------------------ zstd

    test('skopeo pushes hand-built zstd layers (an OCI index mixing zstd and gzip) and pulls them back unchanged', async (t) => {
      if (!requires(t, 'skopeo', 'zstd')) return;
      const amd = await buildImage({
        format: 'oci',
        architecture: 'amd64',
        compression: 'zstd',
        layers: [archFiles('amd64', 'zstd'), { 'data/z.bin': randomBytes(200_000) }],
      });
      const arm = await buildImage({ format: 'oci', architecture: 'arm64', compression: 'gzip', layers: [archFiles('arm64', 'zstd')] });
      assert.equal(compressionOf(amd.layers[0].blob), 'zstd');
      const index = buildIndex('oci', [amd, arm]);
      const src = sb.mkdir('src-zstd');
      writeOciLayout(src, { v1: index, amd64: amd });
      const repo = 'clients/zstd-handmade';

      await sb.skopeo(['copy', '--all', DEST_TLS, `oci:${src}:v1`, docker(repo)]);
      await sb.skopeo(['copy', DEST_TLS, `oci:${src}:amd64`, docker(repo, 'amd64')]);

      assert.equal((await skopeoRaw(docker(repo))).toString(), index.manifest.toString());
      const raw = JSON.parse((await skopeoRaw(docker(repo, 'amd64'))).toString()) as { layers: { mediaType: string }[] };
      assert.deepEqual(
        raw.layers.map((l) => l.mediaType),
        [MEDIA.ociLayerZstd, MEDIA.ociLayerZstd],
      );
      const out = sb.mkdir('pull-zstd');
      await sb.skopeo(['copy', '--all', SRC_TLS, docker(repo), `oci:${out}:v1`]);
      const pulled = readOciLayout(out, 'v1');
      assert.equal(pulled.manifest.toString(), index.manifest.toString());
      await assertSameImage(pulled, pulled.instance(amd.descriptor.digest), amd, 'zstd amd64');
      await assertSameImage(pulled, pulled.instance(arm.descriptor.digest), arm, 'gzip arm64');
    });

    test('skopeo --dest-compress-format zstd recompresses a multi-arch index on push; the zstd layers pull back intact', async (t) => {
      if (!requires(t, 'skopeo', 'zstd')) return;
      const images = [
        await buildImage({
          format: 'oci',
          architecture: 'amd64',
          layers: [archFiles('amd64', 'recompress'), { 'srv/big.bin': randomBytes(300_000) }],
        }),
        await buildImage({
          format: 'oci',
          architecture: 'arm64',
          layers: [archFiles('arm64', 'recompress'), { 'srv/big.bin': randomBytes(300_000) }],
        }),
      ];
      const index = buildIndex('oci', images);
      const src = sb.mkdir('src-recompress');
      writeOciLayout(src, { v1: index });
      const repo = 'clients/zstd-recompressed';

      await sb.skopeo(['copy', '--all', DEST_TLS, '--dest-compress', '--dest-compress-format', 'zstd', `oci:${src}:v1`, docker(repo)]);

      const pushedIndex = JSON.parse((await skopeoRaw(docker(repo))).toString()) as {
        mediaType: string;
        manifests: { digest: string; platform: { architecture: string } }[];
      };
      assert.equal(pushedIndex.mediaType, MEDIA.ociIndex);
      assert.deepEqual(
        pushedIndex.manifests.map((m) => m.platform.architecture),
        ['amd64', 'arm64'],
      );
      const out = sb.mkdir('pull-recompressed');
      await sb.skopeo(['copy', '--all', SRC_TLS, docker(repo), `oci:${out}:v1`]);
      const pulled = readOciLayout(out, 'v1');
      for (const [i, entry] of pushedIndex.manifests.entries()) {
        const want = images[i];
        const rawManifest = await skopeoRaw(docker(repo, entry.digest));
        assert.equal(pulled.instance(entry.digest).toString(), rawManifest.toString());
        const m = JSON.parse(rawManifest.toString()) as { config: { digest: string }; layers: { mediaType: string; digest: string }[] };
        assert.equal(m.config.digest, want.configDescriptor.digest, 'the config (and its diff_ids) is unchanged');
        assert.deepEqual(
          m.layers.map((l) => l.mediaType),
          [MEDIA.ociLayerZstd, MEDIA.ociLayerZstd],
        );
        for (const [j, l] of m.layers.entries()) {
          const blob = pulled.blob(l.digest);
          assert.equal(sha256(blob), l.digest);
          assert.equal(compressionOf(blob), 'zstd');
          assert.equal(sha256(await decompress(blob)), want.layers[j].diffId, 'the zstd layer holds the same tar');
          await assertLayerFiles(blob, want.layers[j].files, `${want.architecture} zstd layer ${j}`);
        }
      }
    });

    // ------------------------------------------------------------ tags and deletion

    test('skopeo list-tags lists every tag and skopeo delete removes a manifest with its tags', async (t) => {
      if (!requires(t, 'skopeo')) return;
      const a = await buildImage({ format: 'oci', layers: [{ 'a.txt': 'image a\n' }] });
      const b = await buildImage({ format: 'docker', layers: [{ 'b.txt': 'image b\n' }] });
      const srcA = sb.mkdir('src-tags-a');
      const srcB = sb.mkdir('src-tags-b');
      writeOciLayout(srcA, { a: a });
      writeDirLayout(srcB, b);
      const repo = 'clients/tags';
      for (const tag of ['1.0', '1.0.1', 'latest']) await sb.skopeo(['copy', DEST_TLS, `oci:${srcA}:a`, docker(repo, tag)]);
      await sb.skopeo(['copy', DEST_TLS, `dir:${srcB}`, docker(repo, 'other')]);

      const tags = JSON.parse((await sb.skopeo(['list-tags', TLS, `docker://${host}/${repo}`])).stdout) as {
        Repository: string;
        Tags: string[];
      };
      assert.equal(tags.Repository, `${host}/${repo}`);
      assert.deepEqual([...tags.Tags].sort(), ['1.0', '1.0.1', 'latest', 'other']);

      // skopeo delete resolves the tag and deletes the manifest by digest: all its tags go.
      await sb.skopeo(['delete', TLS, docker(repo, 'latest')]);
      const after = JSON.parse((await sb.skopeo(['list-tags', TLS, `docker://${host}/${repo}`])).stdout) as { Tags: string[] };
      assert.deepEqual(after.Tags, ['other']);
      const gone = await sb.try('skopeo', ['inspect', TLS, '--raw', docker(repo, a.descriptor.digest)]);
      assert.notEqual(gone.code, 0, 'the deleted manifest is still served');
      assert.match(gone.stderr, /manifest unknown/i);
      assert.equal((await skopeoRaw(docker(repo, 'other'))).toString(), b.manifest.toString());

      const missing = await sb.try('skopeo', ['list-tags', TLS, `docker://${host}/clients/never-pushed`]);
      assert.notEqual(missing.code, 0);
      // skopeo 1.9 reports only the status of a failed tags/list, not the NAME_UNKNOWN body.
      assert.match(missing.stderr, /404|name unknown|not known/i);
    });

    test('skopeo pushes a layerless Docker schema 2 image (FROM scratch + LABEL) and an OCI one, unchanged', async (t) => {
      if (!requires(t, 'skopeo')) return;
      // What `docker build` makes of `FROM scratch` + `LABEL`, and what `skopeo copy --format v2s2`
      // makes of a config-only OCI image: "layers": []. The CNCF distribution registry stores it.
      for (const format of ['oci', 'docker'] as ImageFormat[]) {
        const img = await buildImage({ format, layers: [], labels: { 'org.example.only': 'config' } });
        const src = sb.mkdir(`src-layerless-${format}`);
        if (format === 'oci') writeOciLayout(src, { v1: img });
        else writeDirLayout(src, img);
        await sb.skopeo(['copy', DEST_TLS, format === 'oci' ? `oci:${src}:v1` : `dir:${src}`, docker('clients/layerless', format)]);
        // (When Berth refuses the Docker manifest, skopeo silently falls back to converting it to
        // OCI, so the push "works" but the registry then holds an OCI manifest instead.)
        assert.equal(
          (await skopeoRaw(docker('clients/layerless', format))).toString(),
          img.manifest.toString(),
          `the registry does not hold the ${format} manifest that was pushed`,
        );
        assert.deepEqual((await skopeoInspect(docker('clients/layerless', format))).Labels, { 'org.example.only': 'config' });
      }
    });

    // ------------------------------------------------------------ podman

    test('podman pulls what skopeo pushed (OCI and Docker), podman image inspect shows it, podman push writes it back', async (t) => {
      if (!requires(t, 'skopeo', 'podman')) return;
      const files = { 'etc/motd': 'pulled by podman\n', 'usr/share/doc/app/README': 'doc\n' };
      const oci = await buildImage({
        format: 'oci',
        layers: [files, { 'srv/blob.bin': randomBytes(400_000) }],
        env: ['PATH=/bin', 'WHO=podman'],
        labels: { 'org.example.client': 'podman' },
        cmd: ['/bin/app', '--serve'],
      });
      const dock = await buildImage({
        format: 'docker',
        layers: [{ 'etc/motd': 'docker flavour\n' }],
        labels: { 'org.example.format': 'docker' },
      });
      const srcOci = sb.mkdir('src-podman-oci');
      const srcDocker = sb.mkdir('src-podman-docker');
      writeOciLayout(srcOci, { v1: oci });
      writeDirLayout(srcDocker, dock);
      await sb.skopeo(['copy', DEST_TLS, `oci:${srcOci}:v1`, docker('clients/podman-src')]);
      await sb.skopeo(['copy', DEST_TLS, `dir:${srcDocker}`, docker('clients/podman-docker')]);

      const pull = await sb.podman(['pull', TLS, name('clients/podman-src')]);
      assert.equal(pull.stdout.trim().split('\n').at(-1), oci.configDescriptor.digest.slice('sha256:'.length));
      const img = await podmanInspect(name('clients/podman-src'));
      assert.equal(img.Id, oci.configDescriptor.digest.slice('sha256:'.length));
      assert.equal(img.Digest, oci.descriptor.digest);
      assert.ok(img.RepoDigests.includes(name('clients/podman-src', oci.descriptor.digest)), JSON.stringify(img.RepoDigests));
      assert.ok(img.RepoTags.includes(name('clients/podman-src')), JSON.stringify(img.RepoTags));
      assert.equal(img.Architecture, 'amd64');
      assert.equal(img.Os, 'linux');
      assert.equal(img.ManifestType, MEDIA.ociManifest);
      assert.deepEqual(img.Config.Cmd, ['/bin/app', '--serve']);
      assert.ok(img.Config.Env?.includes('WHO=podman'), JSON.stringify(img.Config.Env));
      assert.deepEqual(img.Config.Labels, { 'org.example.client': 'podman' });
      assert.deepEqual(
        img.RootFS.Layers,
        oci.layers.map((l) => l.diffId),
      );
      // The layers podman extracted hold the files that were pushed.
      const mnt = (await sb.podman(['image', 'mount', name('clients/podman-src')])).stdout.trim();
      assert.deepEqual(readTree(mnt, files), hashes(files));
      await sb.podman(['image', 'unmount', name('clients/podman-src')]);

      await sb.podman(['pull', TLS, name('clients/podman-docker')]);
      const dimg = await podmanInspect(name('clients/podman-docker'));
      assert.equal(dimg.ManifestType, MEDIA.dockerManifest);
      assert.equal(dimg.Digest, dock.descriptor.digest);
      assert.deepEqual(dimg.Config.Labels, { 'org.example.format': 'docker' });

      // podman push, as OCI and as Docker schema 2; skopeo reads both back.
      await sb.podman(['push', TLS, '--format', 'oci', name('clients/podman-src'), docker('clients/podman-pushed', 'oci')]);
      await sb.podman(['push', TLS, '--format', 'v2s2', name('clients/podman-src'), docker('clients/podman-pushed', 'v2s2')]);
      for (const [tag, mediaType] of [
        ['oci', MEDIA.ociManifest],
        ['v2s2', MEDIA.dockerManifest],
      ]) {
        const m = JSON.parse((await skopeoRaw(docker('clients/podman-pushed', tag))).toString()) as {
          mediaType: string;
          layers: unknown[];
        };
        assert.equal(m.mediaType, mediaType, `podman push --format ${tag}`);
        assert.equal(m.layers.length, 2);
        const info = await skopeoInspect(docker('clients/podman-pushed', tag));
        assert.deepEqual(info.Labels, { 'org.example.client': 'podman' });
        const cfg = JSON.parse((await skopeoRaw(docker('clients/podman-pushed', tag), '--config')).toString()) as {
          rootfs: { diff_ids: string[] };
        };
        assert.deepEqual(
          cfg.rootfs.diff_ids,
          oci.layers.map((l) => l.diffId),
          'same layer contents after podman push',
        );
        const out = sb.mkdir(`pull-podman-${tag}`);
        await sb.skopeo(['copy', SRC_TLS, docker('clients/podman-pushed', tag), `dir:${out}`]);
        const pulled = readDirLayout(out);
        const layers = (JSON.parse(pulled.manifest.toString()) as { layers: { digest: string }[] }).layers;
        await assertLayerFiles(pulled.blob(layers[0].digest), files, `podman-pushed ${tag}`);
      }
      const tags = JSON.parse((await sb.skopeo(['list-tags', TLS, `docker://${host}/clients/podman-pushed`])).stdout) as { Tags: string[] };
      assert.deepEqual([...tags.Tags].sort(), ['oci', 'v2s2']);
    });

    test('podman pulls one platform of a zstd multi-arch index, and podman manifest push --all writes a Docker manifest list', async (t) => {
      if (!requires(t, 'skopeo', 'podman')) return;
      const images: BuiltImage[] = [];
      for (const arch of ['amd64', 'arm64'])
        images.push(await buildImage({ format: 'oci', architecture: arch, layers: [archFiles(arch, 'podman')] }));
      const index: BuiltIndex = buildIndex('oci', images);
      const src = sb.mkdir('src-podman-multi');
      writeOciLayout(src, { v1: index });
      const repo = 'clients/podman-multi';
      await sb.skopeo(['copy', '--all', DEST_TLS, '--dest-compress', '--dest-compress-format', 'zstd', `oci:${src}:v1`, docker(repo)]);
      const pushed = JSON.parse((await skopeoRaw(docker(repo))).toString()) as {
        manifests: { digest: string; platform: { architecture: string } }[];
      };
      const armDigest = pushed.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
      const indexDigest = sha256(await skopeoRaw(docker(repo)));
      for (const m of pushed.manifests) {
        const inst = JSON.parse((await skopeoRaw(docker(repo, m.digest))).toString()) as { layers: { mediaType: string }[] };
        assert.deepEqual(
          inst.layers.map((l) => l.mediaType),
          [MEDIA.ociLayerZstd],
        );
      }

      await sb.podman(['pull', TLS, '--arch', 'arm64', name(repo)]);
      const img = await podmanInspect(name(repo));
      assert.equal(img.Architecture, 'arm64');
      // podman 4.3 reports the index digest as Digest, and both digests in RepoDigests.
      assert.ok([armDigest, indexDigest].includes(img.Digest), img.Digest);
      assert.ok(img.RepoDigests.includes(name(repo, armDigest)), JSON.stringify(img.RepoDigests));
      assert.ok(img.RepoDigests.includes(name(repo, indexDigest)), JSON.stringify(img.RepoDigests));
      assert.deepEqual(
        img.RootFS.Layers,
        images[1].layers.map((l) => l.diffId),
      );
      const mnt = (await sb.podman(['image', 'mount', name(repo)])).stdout.trim();
      assert.deepEqual(
        readTree(mnt, archFiles('arm64', 'podman')),
        hashes(archFiles('arm64', 'podman')),
        'podman extracted the zstd layer',
      );
      await sb.podman(['image', 'unmount', name(repo)]);

      // podman builds a manifest list from instances in the registry and pushes it as Docker
      // schema 2. Those instances are gzip (with layers of their own, see archFiles): the
      // containers/image in Debian cannot convert zstd layers to Docker schema 2.
      const gzImages: BuiltImage[] = [];
      for (const arch of ['amd64', 'arm64'])
        gzImages.push(await buildImage({ format: 'oci', architecture: arch, layers: [archFiles(arch, 'podman-list')] }));
      const gzSrc = sb.mkdir('src-podman-list');
      writeOciLayout(gzSrc, { v1: buildIndex('oci', gzImages) });
      await sb.skopeo(['copy', '--all', DEST_TLS, `oci:${gzSrc}:v1`, docker('clients/podman-list-src')]);
      const list = `localhost/berth-list-${dialect}:v1`;
      await sb.podman(['manifest', 'create', list]);
      for (const img of gzImages) await sb.podman(['manifest', 'add', TLS, list, docker('clients/podman-list-src', img.descriptor.digest)]);
      await sb.podman(['manifest', 'push', TLS, '--all', '--format', 'v2s2', list, docker('clients/podman-list')]);
      const dl = JSON.parse((await skopeoRaw(docker('clients/podman-list'))).toString()) as {
        mediaType: string;
        manifests: { mediaType: string; digest: string; platform: { architecture: string; os: string } }[];
      };
      assert.equal(dl.mediaType, MEDIA.dockerList);
      assert.deepEqual(dl.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort(), ['linux/amd64', 'linux/arm64']);
      for (const m of dl.manifests) {
        assert.equal(m.mediaType, MEDIA.dockerManifest);
        const inst = JSON.parse((await skopeoRaw(docker('clients/podman-list', m.digest))).toString()) as {
          mediaType: string;
          layers: { mediaType: string }[];
        };
        assert.equal(inst.mediaType, MEDIA.dockerManifest);
        assert.deepEqual(
          inst.layers.map((l) => l.mediaType),
          [MEDIA.dockerLayerGzip],
        );
      }
      // And podman pulls one platform of that Docker manifest list.
      await sb.podman(['pull', TLS, '--arch', 'arm64', name('clients/podman-list')]);
      const fromList = await podmanInspect(name('clients/podman-list'));
      assert.equal(fromList.Architecture, 'arm64');
      assert.equal(fromList.ManifestType, MEDIA.dockerManifest);
      assert.ok(
        fromList.RepoDigests.includes(name('clients/podman-list', dl.manifests.find((m) => m.platform.architecture === 'arm64')!.digest)),
        JSON.stringify(fromList.RepoDigests),
      );
      assert.deepEqual(
        fromList.RootFS.Layers,
        gzImages[1].layers.map((l) => l.diffId),
      );

      const out = sb.mkdir('pull-podman-list');
      await sb.skopeo(['copy', '--all', SRC_TLS, docker('clients/podman-list'), `dir:${out}`]);
      const pulled = readDirLayout(out);
      for (const m of dl.manifests) {
        const inst = JSON.parse(pulled.instance(m.digest).toString()) as { layers: { digest: string }[] };
        await assertLayerFiles(
          pulled.blob(inst.layers[0].digest),
          archFiles(m.platform.architecture, 'podman-list'),
          `podman list ${m.platform.architecture}`,
        );
      }
    });

    // ------------------------------------------------------------ buildah

    test('buildah from scratch + copy + commit + push (OCI, Docker, zstd); skopeo and buildah read it back', async (t) => {
      if (!requires(t, 'skopeo', 'buildah')) return;
      const work = sb.mkdir('buildah-ctx');
      const files: LayerFiles = { 'srv/hello.txt': `hello from buildah on ${dialect}\n`, 'srv/data/numbers.txt': '1\n2\n3\n' };
      mkdirSync(path.join(work, 'data'));
      writeFileSync(path.join(work, 'hello.txt'), files['srv/hello.txt']);
      writeFileSync(path.join(work, 'data', 'numbers.txt'), files['srv/data/numbers.txt']);

      const build = async (ctr: string, extra: LayerFiles = {}) => {
        await sb.buildah(['from', '--name', ctr, 'scratch']);
        await sb.buildah(['copy', ctr, path.join(work, 'hello.txt'), '/srv/hello.txt']);
        await sb.buildah(['copy', ctr, path.join(work, 'data'), '/srv/data']);
        for (const [p, content] of Object.entries(extra)) {
          const f = path.join(work, path.basename(p));
          writeFileSync(f, content);
          await sb.buildah(['copy', ctr, f, `/${p}`]);
        }
        await sb.buildah([
          'config',
          '--arch',
          'arm64',
          '--os',
          'linux',
          '--env',
          'BUILT_BY=buildah',
          '--cmd',
          '["/srv/run"]',
          '--label',
          'org.example.builder=buildah',
          ctr,
        ]);
      };
      await build('berth-b1');
      await sb.buildah(['commit', '--format', 'oci', 'berth-b1', 'localhost/berth-b:oci']);
      await sb.buildah(['commit', '--format', 'docker', 'berth-b1', 'localhost/berth-b:docker']);
      await sb.buildah(['push', TLS, 'localhost/berth-b:oci', docker('clients/buildah', 'oci')]);
      await sb.buildah(['push', TLS, 'localhost/berth-b:docker', docker('clients/buildah', 'docker')]);
      // zstd from a container of its own, so no gzip copy of its layer can be reused instead.
      const zfiles = { 'srv/zstd.txt': 'compressed with zstd by buildah\n' };
      await build('berth-b2', zfiles);
      await sb.buildah(['commit', '--format', 'oci', 'berth-b2', 'localhost/berth-b:zstd']);
      await sb.buildah(['push', TLS, '--compression-format', 'zstd', 'localhost/berth-b:zstd', docker('clients/buildah', 'zstd')]);

      for (const [tag, mediaType, layerType] of [
        ['oci', MEDIA.ociManifest, MEDIA.ociLayerGzip],
        ['docker', MEDIA.dockerManifest, MEDIA.dockerLayerGzip],
        ['zstd', MEDIA.ociManifest, MEDIA.ociLayerZstd],
      ]) {
        const raw = await skopeoRaw(docker('clients/buildah', tag));
        const m = JSON.parse(raw.toString()) as { mediaType?: string; layers: { mediaType: string; digest: string }[] };
        assert.equal(m.mediaType ?? MEDIA.ociManifest, mediaType, `buildah push ${tag}`);
        assert.ok(m.layers.length >= 1 && m.layers.every((l) => l.mediaType === layerType), `${tag}: ${JSON.stringify(m.layers)}`);
        const info = await skopeoInspect(docker('clients/buildah', tag));
        assert.equal(info.Architecture, 'arm64');
        assert.equal(info.Labels?.['org.example.builder'], 'buildah');
        assert.ok(info.Env?.includes('BUILT_BY=buildah'), JSON.stringify(info.Env));
        const out = sb.mkdir(`pull-buildah-${tag}`);
        await sb.skopeo(['copy', SRC_TLS, docker('clients/buildah', tag), `dir:${out}`]);
        const pulled = readDirLayout(out);
        assert.equal(pulled.manifest.toString(), raw.toString());
        const all = new Map<string, Buffer>();
        for (const l of m.layers) {
          const blob = pulled.blob(l.digest);
          assert.equal(sha256(blob), l.digest);
          assert.equal(compressionOf(blob), tag === 'zstd' ? 'zstd' : 'gzip');
          if (tag === 'zstd' && !installed.zstd) continue; // buildah reads it back below
          for (const [f, d] of await layerFiles(blob)) all.set(f, d);
        }
        if (tag !== 'zstd' || installed.zstd) {
          const want = tag === 'zstd' ? { ...files, ...zfiles } : files;
          for (const [f, content] of Object.entries(want)) assert.equal(all.get(f)?.toString(), content, `${tag}: ${f}`);
        }
      }

      // buildah pulls what it pushed (into a fresh container) and the files are there.
      await sb.buildah(['rmi', '-f', 'localhost/berth-b:zstd']);
      await sb.buildah(['from', TLS, '--name', 'berth-b3', name('clients/buildah', 'zstd')]);
      const mnt = (await sb.buildah(['mount', 'berth-b3'])).stdout.trim();
      const want = { ...files, ...zfiles };
      assert.deepEqual(readTree(mnt, want), hashes(want));
      await sb.buildah(['umount', 'berth-b3']);
      for (const ctr of ['berth-b1', 'berth-b2', 'berth-b3']) await sb.buildah(['rm', ctr]);
    });

    // ------------------------------------------------------------ umoci

    test('umoci builds an OCI layout; skopeo pushes it unchanged; skopeo pulls it and umoci unpacks and repacks it; podman pulls the repack', async (t) => {
      if (!requires(t, 'skopeo', 'umoci')) return;
      const layout = path.join(sb.mkdir('umoci'), 'layout');
      const rootfsSrc = sb.mkdir('umoci-src');
      const files: LayerFiles = { 'opt/app/run.sh': '#!/bin/sh\necho umoci\n', 'opt/app/conf/app.conf': `dialect=${dialect}\n` };
      mkdirSync(path.join(rootfsSrc, 'app', 'conf'), { recursive: true });
      writeFileSync(path.join(rootfsSrc, 'app', 'run.sh'), files['opt/app/run.sh']);
      writeFileSync(path.join(rootfsSrc, 'app', 'conf', 'app.conf'), files['opt/app/conf/app.conf']);
      await sb.umoci(['init', '--layout', layout]);
      await sb.umoci(['new', '--image', `${layout}:v1`]);
      await sb.umoci(['insert', '--image', `${layout}:v1`, path.join(rootfsSrc, 'app'), '/opt/app']);
      await sb.umoci([
        'config',
        '--image',
        `${layout}:v1`,
        '--architecture',
        'arm64',
        '--os',
        'linux',
        '--config.env',
        'BUILT_BY=umoci',
        '--config.cmd',
        '/opt/app/run.sh',
        '--config.label',
        'org.example.builder=umoci',
      ]);
      const built = readOciLayout(layout, 'v1');
      const manifest = JSON.parse(built.manifest.toString()) as {
        config: { digest: string };
        layers: { mediaType: string; digest: string }[];
      };
      assert.equal(manifest.layers.length, 1);
      const repo = 'clients/umoci';

      await sb.skopeo(['copy', DEST_TLS, `oci:${layout}:v1`, docker(repo)]);
      assert.equal((await skopeoRaw(docker(repo))).toString(), built.manifest.toString());
      assert.equal((await skopeoRaw(docker(repo), '--config')).toString(), built.blob(manifest.config.digest).toString());
      const info = await skopeoInspect(docker(repo));
      assert.equal(info.Digest, built.digest);
      assert.equal(info.Architecture, 'arm64');
      assert.deepEqual(info.Labels, { 'org.example.builder': 'umoci' });

      // Pull into a new layout, check it is the same, unpack it with umoci.
      const pulledLayout = path.join(sb.mkdir('umoci-pulled'), 'layout');
      await sb.skopeo(['copy', SRC_TLS, docker(repo), `oci:${pulledLayout}:pulled`]);
      const pulled = readOciLayout(pulledLayout, 'pulled');
      assert.equal(pulled.manifest.toString(), built.manifest.toString());
      assert.equal(sha256(pulled.blob(manifest.layers[0].digest)), manifest.layers[0].digest);
      await assertLayerFiles(pulled.blob(manifest.layers[0].digest), files, 'umoci layer');
      const bundle = path.join(sb.mkdir('umoci-bundle'), 'bundle');
      await sb.umoci(['unpack', '--image', `${pulledLayout}:pulled`, bundle]);
      assert.deepEqual(readTree(path.join(bundle, 'rootfs'), files), hashes(files));
      const runtime = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process: { env: string[] } };
      assert.ok(runtime.process.env.includes('BUILT_BY=umoci'), JSON.stringify(runtime.process.env));

      // Change the unpacked tree, repack it as v2, push v2, and let podman pull it.
      const changed = { 'opt/app/conf/app.conf': 'changed by umoci repack\n' };
      writeFileSync(path.join(bundle, 'rootfs', 'opt/app/conf/app.conf'), changed['opt/app/conf/app.conf']);
      await sb.umoci(['repack', '--image', `${pulledLayout}:v2`, bundle]);
      const v2 = readOciLayout(pulledLayout, 'v2');
      await sb.skopeo(['copy', DEST_TLS, `oci:${pulledLayout}:v2`, docker(repo, 'v2')]);
      assert.equal((await skopeoRaw(docker(repo, 'v2'))).toString(), v2.manifest.toString());
      const tags = JSON.parse((await sb.skopeo(['list-tags', TLS, `docker://${host}/${repo}`])).stdout) as { Tags: string[] };
      assert.deepEqual([...tags.Tags].sort(), ['v1', 'v2']);
      if (!installed.podman) {
        t.diagnostic('podman not installed: apt-get install podman (podman pull of the umoci image not checked)');
        return;
      }
      await sb.podman(['pull', TLS, name(repo, 'v2')]);
      const img = await podmanInspect(name(repo, 'v2'));
      assert.equal(img.Digest, v2.digest);
      assert.equal(img.Architecture, 'arm64');
      assert.equal(img.RootFS.Layers.length, 2);
      const mnt = (await sb.podman(['image', 'mount', name(repo, 'v2')])).stdout.trim();
      const want = { ...files, ...changed };
      assert.deepEqual(readTree(mnt, want), hashes(want));
      await sb.podman(['image', 'unmount', name(repo, 'v2')]);
    });
  });
}
