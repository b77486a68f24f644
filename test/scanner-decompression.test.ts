// Layer decompression: real gzip and zstd layers made with the gzip and zstd binaries from a real tar,
// read back through every zstd decoder this Node can use (Node's zlib where it has zstd and decodes every frame, a
// `zstd -dc` child process, fzstd); multi-frame layers decode whole; truncated, corrupt and trailing input gives a
// specific error, and no decoder child process outlives its layer (finished, failed or abandoned). The
// Node-compatibility pass runs this file on Node 22 and 24 (scripts/node-compat-set.mjs).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { readLayer, LayerFormatError } from '../src/scanner/indexer/index.ts';
import { availableZstdDecoders, decoder, zstdBinary, zstdDecoder } from '../src/scanner/compression.ts';
import { liveChildren } from '../src/scanner/zstd-child.ts';
import { zlibZstdDecodesEveryFrame } from '../src/scanner/zstd-zlib.ts';
import { prng } from './helpers/prng.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'berth-decompression-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tarFile = path.join(dir, 'layer.tar');
let tarBytes: Buffer;
let entries = 0;

function sh(cmd: string): void {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
}

before(() => {
  // A real tar (a few MB, many files), compressed by the real binaries. Its contents are generated from a fixed
  // seed and tar is told to write fixed metadata, so the bytes (and where the corruption below lands) are the same
  // on every run and every commit.
  const tree = path.join(dir, 'tree');
  const rnd = prng(0x1a7e5);
  const words = ['layer', 'manifest', 'digest', 'blob', 'tag', 'index', 'config', 'package', 'version', 'vendor'];
  for (let d = 0; d < 12; d++) {
    mkdirSync(path.join(tree, `dir${d}`), { recursive: true });
    for (let f = 0; f < 40; f++) {
      const lines: string[] = [];
      for (let n = 200 + rnd.int(800); n > 0; n--) lines.push(`${rnd.pick(words)} ${rnd.int(1e6)} ${rnd.pick(words)}`);
      writeFileSync(path.join(tree, `dir${d}`, `file${f}.txt`), `${lines.join('\n')}\n`);
    }
  }
  sh(`tar -C '${tree}' --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=gnu -cf '${tarFile}' .`);
  sh(`gzip -c '${tarFile}' > '${tarFile}.gz'`);
  sh(`zstd -q -c '${tarFile}' > '${tarFile}.zst'`);
  tarBytes = readFileSync(tarFile);
  // Three zstd frames back to back with a skippable frame among them, as a zstd:chunked layer is (hundreds of frames
  // and skippable ones), and as `cat a.zst b.zst` makes: the decoders must give back all of it.
  const third = Math.floor(tarBytes.length / 3);
  writeFileSync(path.join(dir, 'part1'), tarBytes.subarray(0, third));
  writeFileSync(path.join(dir, 'part2'), tarBytes.subarray(third, 2 * third));
  writeFileSync(path.join(dir, 'part3'), tarBytes.subarray(2 * third));
  const skippable = Buffer.alloc(8 + 100, 0x33);
  skippable.writeUInt32LE(0x184d2a5e, 0);
  skippable.writeUInt32LE(100, 4);
  writeFileSync(path.join(dir, 'skippable'), skippable);
  sh(`cd '${dir}' && for p in part1 part2 part3; do zstd -q -c -3 $p > $p.zst; done`);
  sh(`cd '${dir}' && cat part1.zst skippable part2.zst part3.zst skippable > '${tarFile}.frames.zst'`);
  // A whole zstd stream followed by bytes that are not a frame (the zstd binary: "unsupported format").
  writeFileSync(`${tarFile}.trailing.zst`, Buffer.concat([readFileSync(`${tarFile}.zst`), Buffer.from('not a zstd frame')]));
  entries = spawnSync('tar', ['-tf', tarFile], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).length;
  const cut = (name: string, keep: (n: number) => number) => {
    const b = readFileSync(path.join(dir, name));
    writeFileSync(path.join(dir, `truncated-${name}`), b.subarray(0, keep(b.length)));
  };
  cut('layer.tar.zst', (n) => Math.floor(n / 2));
  cut('layer.tar.gz', (n) => Math.floor(n / 2));
  const corrupt = (name: string, prefix: string, at: (n: number) => number) => {
    const b = Buffer.from(readFileSync(path.join(dir, name)));
    for (let i = at(b.length); i < at(b.length) + 64; i++) b[i] ^= 0x5a;
    writeFileSync(path.join(dir, `${prefix}-${name}`), b);
  };
  // A third of the way in: inside compressed file contents, found by the stream's checksum (gzip's CRC, zstd's
  // content checksum). Right after the zstd magic: the frame and first block headers, which every decoder parses.
  corrupt('layer.tar.zst', 'corrupt', (n) => Math.floor(n / 3));
  corrupt('layer.tar.gz', 'corrupt', (n) => Math.floor(n / 3));
  corrupt('layer.tar.zst', 'corrupt-head', () => 4);
});

const open = (name: string) => createReadStream(path.join(dir, name), { highWaterMark: 1 << 20 });
const noChildren = () =>
  waitFor(() => liveChildren().length === 0, { what: 'every zstd child process to exit', detail: () => String(liveChildren()) });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** What Node's own zlib makes of the multi-frame layer, streamed (undefined: this Node has no zstd in zlib). */
async function zlibOnFrames(): Promise<string | undefined> {
  const create = (zlib as { createZstdDecompress?: () => NodeJS.ReadWriteStream }).createZstdDecompress;
  if (!create) return undefined;
  const parts: Buffer[] = [];
  try {
    for await (const c of open('layer.tar.frames.zst').pipe(create())) parts.push(c as Buffer);
  } catch (err) {
    return `error after ${Buffer.concat(parts).length} bytes: ${(err as Error).message}`;
  }
  const out = Buffer.concat(parts);
  return out.equals(tarBytes) ? 'every frame' : `${out.length} of ${tarBytes.length} bytes`;
}

test("Node's zlib zstd is used only where it decodes every frame (tried on a two-frame input, not by version)", async () => {
  const onFrames = await zlibOnFrames();
  // The probe agrees with what zlib itself does with a real multi-frame layer on this Node.
  assert.equal(zlibZstdDecodesEveryFrame(), onFrames === 'every frame', `zlib on a multi-frame layer: ${onFrames}`);
  assert.equal(zstdDecoder() === 'zlib', onFrames === 'every frame');
  if (onFrames !== undefined && onFrames !== 'every frame') {
    // A zlib that stops after the first frame (Node 22.23.5): forced anyway, Berth's wrapper makes that an error
    // instead of a layer silently cut short.
    await assert.rejects(readLayer(open('layer.tar.frames.zst'), [], { zstdDecoder: 'zlib' }), (err: Error) => {
      assert.ok(err instanceof LayerFormatError, String(err));
      assert.match(err.message, /^layer is not a valid (zstd stream|tar archive) \(truncated or corrupt\): /);
      return true;
    });
  }
});

test('the zstd decoder is the fastest available: zlib where Node has it, else the zstd binary, else fzstd', () => {
  const hasZlibZstd = zlibZstdDecodesEveryFrame();
  assert.ok(zstdBinary(), 'the zstd binary is installed on this machine');
  assert.equal(zstdDecoder(), hasZlibZstd ? 'zlib' : 'zstd-binary');
  assert.deepEqual(availableZstdDecoders(), [...(hasZlibZstd ? ['zlib'] : []), 'zstd-binary', 'fzstd']);
  // Without the binary on the PATH (a laptop with nothing installed), Node's zlib or fzstd.
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '-e', "import('./src/scanner/compression.ts').then((m) => console.log(m.zstdDecoder(), m.zstdBinary()))"],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: path.join(dir, 'empty-path') } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `${hasZlibZstd ? 'zlib' : 'fzstd'} null`);
});

describe('gzip layers (zlib)', () => {
  test('a real gzip layer decodes to the exact tar and walks every entry', async () => {
    const r = await readLayer(open('layer.tar.gz'), []);
    assert.equal(r.compression, 'gzip');
    assert.equal(r.entries, entries);
  });
  test('truncated gzip: a specific error', async () => {
    await assert.rejects(readLayer(open('truncated-layer.tar.gz'), []), (err: Error) => {
      assert.ok(err instanceof LayerFormatError);
      assert.match(
        err.message,
        /^layer is not a valid (gzip stream|tar archive) \(truncated or corrupt\): (unexpected end of file|Unexpected end of data)/,
      );
      return true;
    });
  });
  test('corrupt gzip: a specific error', async () => {
    await assert.rejects(readLayer(open('corrupt-layer.tar.gz'), []), (err: Error) => {
      assert.ok(err instanceof LayerFormatError);
      assert.match(err.message, /^layer is not a valid (gzip stream|tar archive) \(truncated or corrupt\): /);
      return true;
    });
  });
});

for (const kind of availableZstdDecoders()) {
  describe(`zstd layers (${kind})`, () => {
    test('the decoder gives back the exact tar, single and multi-frame (with skippable frames)', async () => {
      for (const name of ['layer.tar.zst', 'layer.tar.frames.zst']) {
        const parts: Buffer[] = [];
        for await (const c of open(name).pipe(decoder('zstd', { zstd: kind }))) parts.push(c as Buffer);
        assert.ok(Buffer.concat(parts).equals(tarBytes), `${name} decodes to the original tar`);
      }
      await noChildren();
    });
    test('a real zstd layer walks every entry, single and multi-frame', async () => {
      for (const name of ['layer.tar.zst', 'layer.tar.frames.zst']) {
        const r = await readLayer(open(name), [], { zstdDecoder: kind });
        assert.equal(r.compression, 'zstd');
        assert.equal(r.entries, entries, name);
      }
      await noChildren();
    });
    test('bytes after the last frame: a specific error, as the zstd binary gives', async () => {
      await assert.rejects(readLayer(open('layer.tar.trailing.zst'), [], { zstdDecoder: kind }), (err: Error) => {
        assert.ok(err instanceof LayerFormatError, String(err));
        const why = {
          zlib: /: at least \d+ bytes after the end of the zstd stream$/,
          'zstd-binary': /: zstd exited with status 1: unsupported format$/,
          fzstd: /: invalid zstd data/,
        }[kind];
        assert.match(err.message, /^layer is not a valid zstd stream \(truncated or corrupt\): /);
        assert.match(err.message, why);
        return true;
      });
      await noChildren();
    });
    test('truncated zstd: a specific error, no process left', async () => {
      await assert.rejects(readLayer(open('truncated-layer.tar.zst'), [], { zstdDecoder: kind }), (err: Error) => {
        assert.ok(err instanceof LayerFormatError, String(err));
        const why = kind === 'zstd-binary' ? /zstd exited with status 1: .*(premature end|truncated|Read error)/i : /./;
        assert.match(err.message, /^layer is not a valid zstd stream \(truncated or corrupt\): /);
        assert.match(err.message, why);
        return true;
      });
      await noChildren();
    });
    // fzstd does not verify zstd's content checksum, so corrupt bytes inside a block that still decodes give wrong
    // file contents without an error (the layer's sha256 digest, checked when it was pushed, is what guards the
    // bytes); it is held to the frame-structure corruption below, the others to both.
    const corruptFiles = kind === 'fzstd' ? ['corrupt-head-layer.tar.zst'] : ['corrupt-layer.tar.zst', 'corrupt-head-layer.tar.zst'];
    for (const file of corruptFiles)
      test(`corrupt zstd (${file}): a specific error, no process left`, async () => {
        await assert.rejects(readLayer(open(file), [], { zstdDecoder: kind }), (err: Error) => {
          assert.ok(err instanceof LayerFormatError, String(err));
          // Whichever notices first: the decoder, or the tar parser reading the garbage it produced.
          assert.match(err.message, /^layer is not a valid (zstd stream|tar archive) \(truncated or corrupt\): /);
          return true;
        });
        await noChildren();
        // The decoder on its own reports the corruption.
        const drain = async () => {
          for await (const _ of open(file).pipe(decoder('zstd', { zstd: kind })));
        };
        await assert.rejects(
          drain(),
          kind === 'zstd-binary' ? /^ZstdChildError: zstd exited with status 1: .*(corrupt|checksum|error)/i : /./,
        );
        await noChildren();
      });
    test('an error upstream (the blob read fails half-way) ends the layer with that error, no process left', async () => {
      const data = readFileSync(path.join(dir, 'layer.tar.zst'));
      const source = new Readable({ read() {} });
      source.push(data.subarray(0, data.length >> 2));
      const p = readLayer(source, [], { zstdDecoder: kind });
      setImmediate(() => source.destroy(new Error('storage went away')));
      await assert.rejects(p, /layer could not be read: storage went away|storage went away/);
      await noChildren();
    });
  });
}

describe('zstd child process lifetime', () => {
  test('a decoder destroyed mid-stream kills its zstd process', async () => {
    const d = decoder('zstd', { zstd: 'zstd-binary' });
    const src = open('layer.tar.zst');
    src.pipe(d);
    // Wait for the first decoded bytes: the child is running and busy.
    await new Promise<void>((resolve) => d.once('data', () => resolve()));
    const pids = liveChildren();
    assert.equal(pids.length, 1);
    assert.ok(alive(pids[0]));
    d.destroy();
    src.destroy();
    await noChildren();
    assert.ok(!alive(pids[0]), 'the zstd process is gone');
  });
  test('a reader that stops after the first entry (the layer reader gives up) leaves no process', async () => {
    const d = decoder('zstd', { zstd: 'zstd-binary' });
    open('layer.tar.zst').pipe(d);
    for await (const _ of d) break; // async iteration destroys the stream on break
    await noChildren();
  });
  test('a decoder whose input never ends is killed on destroy, not left waiting', async () => {
    const d = decoder('zstd', { zstd: 'zstd-binary' });
    const src = new Readable({ read() {} });
    src.pipe(d);
    src.push(readFileSync(path.join(dir, 'layer.tar.zst')).subarray(0, 4096));
    await waitFor(() => liveChildren().length === 1, { what: 'the zstd process to start' });
    const [pid] = liveChildren();
    d.destroy();
    await noChildren();
    assert.ok(!alive(pid));
  });
  test('a zstd binary that cannot start is a clear error', async () => {
    const { ZstdChildDecompress } = await import('../src/scanner/zstd-child.ts');
    const d = new ZstdChildDecompress(path.join(dir, 'no-such-zstd'));
    const err = await new Promise<Error>((resolve) => d.on('error', resolve));
    assert.match(err.message, /^the zstd decoder could not be started: spawn .*no-such-zstd ENOENT/);
    assert.equal(liveChildren().length, 0);
  });
});
