// The scanner's indexer: real layer tars (gzip, zstd, plain) built here with tar-stream, read back
// as streams; package databases from this machine and from claircore's test data; whiteouts from
// claircore's real whiteout layers.
import { describe, test, before, after } from 'node:test';
import { sharedFixture, sharedSkip } from './helpers/shared.ts';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import yazl from 'yazl';
import Database from 'better-sqlite3';
import {
  indexLayers,
  readLayer,
  mergeLayers,
  LayeredView,
  LayerFormatError,
  isCurrent,
  scanners as allScanners,
  type LayerResult,
  type Scanner,
  type LayerCache,
  type Package,
} from '../src/scanner/indexer/index.ts';
import { parseOsRelease, distributionFromOsRelease } from '../src/scanner/indexer/os-release.ts';
import { parseDebSource } from '../src/scanner/indexer/dpkg.ts';
import { RpmHeader, RPMTAG, parseSourceRpm } from '../src/scanner/indexer/rpm.ts';
import { TarParser, TarFormatError } from '../src/scanner/indexer/tar.ts';
import { javaScanner } from '../src/scanner/indexer/java.ts';
import { decodeInlineBuildInfo, packagesFromBuildInfo, parseModInfo } from '../src/scanner/indexer/go-binary.ts';

const fixturesDir = sharedFixture('claircore');
const HAVE_ZSTD = spawnSync('zstd', ['--version']).status === 0;

// ---------------------------------------------------------------------------------------------
// Building layers

interface E {
  name: string;
  data?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  mode?: number;
  linkname?: string;
}

async function tarOf(entries: E[]): Promise<Buffer> {
  const pack = tar.pack();
  const out: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) out.push(c);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? (typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0))) : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        ...(e.linkname ? { linkname: e.linkname } : {}),
      };
      if (data) pack.entry(header, data, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(out);
}

type Comp = 'gzip' | 'zstd' | 'none';
async function layer(entries: E[], comp: Comp = 'gzip'): Promise<Buffer> {
  const t = await tarOf(entries);
  if (comp === 'gzip') return gzipSync(t, { level: 1 });
  if (comp === 'zstd') {
    const r = spawnSync('zstd', ['-q', '-c', '-1'], { input: t, maxBuffer: 1 << 30 });
    assert.equal(r.status, 0, String(r.stderr));
    return r.stdout;
  }
  return t;
}

/** A layer blob as the blob store would hand it out: a stream in modest chunks. */
function stream(buf: Buffer, chunk = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
    })(),
  );
}

async function index(layers: Buffer[], opts: Parameters<typeof indexLayers>[1] = {}) {
  return indexLayers(
    layers.map((b) => () => stream(b)),
    opts,
  );
}

function find(pkgs: Package[], eco: string, name: string): Package | undefined {
  return pkgs.find((p) => p.ecosystem === eco && p.name === name);
}

// ---------------------------------------------------------------------------------------------

describe('indexer: dpkg', () => {
  test("this machine's /var/lib/dpkg/status: every installed package, versions and sources as dpkg-query says", async (t) => {
    const status = readFileSync('/var/lib/dpkg/status');
    const q = spawnSync(
      'dpkg-query',
      ['-W', '-f', '${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\n'],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    assert.equal(q.status, 0);
    // Status-Abbrev: want, status, error flag; "installed" is status 'i' with no error flag.
    const installed = q.stdout
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f[0][1] === 'i' && f[0][2] === ' ');
    const all = Number(spawnSync('sh', ['-c', 'dpkg-query -W | wc -l'], { encoding: 'utf8' }).stdout.trim());
    const r = await index([await layer([{ name: 'var/lib/dpkg/status', data: status }])]);
    const debs = r.packages.filter((p) => p.ecosystem === 'deb');
    assert.equal(debs.length, installed.length);
    assert.ok(debs.length > 100);
    if (all === installed.length) assert.equal(debs.length, all, '`dpkg-query -W | wc -l`');
    else
      t.diagnostic(
        `dpkg-query -W lists ${all} packages, ${all - installed.length} of them not installed (e.g. removed with config files left): compared with the ${installed.length} installed ones`,
      );
    const byKey = new Map(debs.map((p) => [`${p.name}:${p.arch}`, p]));
    for (const [, name, arch, version, srcName, srcVersion] of installed) {
      const p = byKey.get(`${name}:${arch}`);
      assert.ok(p, `${name}:${arch} found`);
      assert.equal(p.version, version, name);
      assert.deepEqual(p.source, { name: srcName, version: srcVersion }, `${name} source`);
      assert.equal(p.kind, 'binary');
      assert.equal(p.path, 'var/lib/dpkg/status');
      assert.equal(p.layerIndex, 0);
    }
    const bash = find(debs, 'deb', 'bash')!;
    assert.equal(bash.version, spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'bash'], { encoding: 'utf8' }).stdout);
  });

  test('claircore dpkg fixtures: installed packages, Source with and without a version', { skip: sharedSkip }, async () => {
    const only = await index([
      await layer([{ name: 'var/lib/dpkg/status', data: readFileSync(path.join(fixturesDir, 'dpkg_testdata_debian-only.status')) }]),
    ]);
    assert.deepEqual(
      only.packages.map((p) => [p.name, p.version, p.arch, p.source]),
      [['debian-archive-keyring', '2019.1', 'all', { name: 'debian-archive-keyring', version: '2019.1' }]],
    );
    const pg = await index([
      await layer([{ name: 'var/lib/dpkg/status', data: readFileSync(path.join(fixturesDir, 'dpkg_testdata_postgresql.status')) }]),
    ]);
    const got = Object.fromEntries(pg.packages.map((p) => [p.name, [p.version, p.source]]));
    assert.deepEqual(got, {
      'postgresql-client': ['11+200+deb10u5', { name: 'postgresql-common', version: '200+deb10u5' }],
      'postgresql-client-11': ['11.22-0+deb10u2', { name: 'postgresql-11', version: '11.22-0+deb10u2' }],
      'postgresql-client-common': ['200+deb10u5', { name: 'postgresql-common', version: '200+deb10u5' }],
    });
    assert.deepEqual(parseDebSource('glibc (2.36-9)', 'libc6', '2.36-9+b1'), { name: 'glibc', version: '2.36-9' });
  });

  test('only installed packages count (config-files, half-installed and not-installed do not)', async () => {
    const status = [
      'Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n',
      'Package: b\nStatus: deinstall ok config-files\nVersion: 2\n',
      'Package: c\nStatus: install reinstreq half-installed\nVersion: 3\n',
      'Package: d\nStatus: hold ok installed\nVersion: 4\nDescription: held\n multi-line\n .\n description\n',
      'Package: e\nStatus: purge ok not-installed\n',
    ].join('\n');
    const r = await index([await layer([{ name: 'var/lib/dpkg/status', data: status }])]);
    assert.deepEqual(
      r.packages.map((p) => `${p.name}=${p.version}`),
      ['a=1', 'd=4'],
    );
  });

  test('distroless: var/lib/dpkg/status.d/* stanzas without Status, md5sums ignored', async () => {
    const r = await index([
      await layer([
        { name: 'var/lib/dpkg/status.d/', type: 'directory' },
        { name: 'var/lib/dpkg/status.d/base', data: 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\nMaintainer: x\n' },
        { name: 'var/lib/dpkg/status.d/libc6', data: 'Package: libc6\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\nSource: glibc\n' },
        { name: 'var/lib/dpkg/status.d/libc6.md5sums', data: 'd41d8cd98f00b204e9800998ecf8427e  lib/x86_64-linux-gnu/libc.so.6\n' },
        { name: 'var/lib/dpkg/status.d/tzdata', data: 'Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n' },
      ]),
    ]);
    assert.deepEqual(r.packages.map((p) => [p.name, p.version, p.source?.name, p.path]).sort(), [
      ['base-files', '12.4+deb12u5', 'base-files', 'var/lib/dpkg/status.d/base'],
      ['libc6', '2.36-9+deb12u7', 'glibc', 'var/lib/dpkg/status.d/libc6'],
      ['tzdata', '2024a-0+deb12u1', 'tzdata', 'var/lib/dpkg/status.d/tzdata'],
    ]);
  });
});

describe('indexer: apk, rpm', () => {
  test('apk installed database: name, version, origin as source, arch', async () => {
    const db = [
      'C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Timo\nt:1\nc:abc\nF:lib\nR:ld-musl-x86_64.so.1\n',
      'C:Q1def=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\nF:usr/lib\n',
      'P:busybox-binsh\nV:1.36.1-r15\nA:x86_64\no:busybox\n',
      'P:no-origin\nV:1-r0\n',
      '',
    ].join('\n');
    const r = await index([await layer([{ name: 'lib/apk/db/installed', data: db }])]);
    assert.deepEqual(
      r.packages.map((p) => [p.ecosystem, p.name, p.version, p.arch, p.source]),
      [
        ['apk', 'musl', '1.2.4-r2', 'x86_64', { name: 'musl', version: '1.2.4-r2' }],
        ['apk', 'libcrypto3', '3.1.4-r5', 'x86_64', { name: 'openssl', version: '3.1.4-r5' }],
        ['apk', 'busybox-binsh', '1.36.1-r15', 'x86_64', { name: 'busybox', version: '1.36.1-r15' }],
        ['apk', 'no-origin', '1-r0', undefined, { name: 'no-origin', version: '1-r0' }],
      ],
    );
  });

  /**
   * An rpm header blob as rpmdb stores it (rpm's docs/manual/format.md): int32 il, int32 dl, il index
   * entries {tag, type, offset, count}, dl data bytes, big-endian; a HEADERIMMUTABLE (63) region tag
   * first whose 16-byte trailer sits at the end of the data.
   */
  function rpmHeaderBlob(tags: {
    name: string;
    version: string;
    release: string;
    epoch?: number;
    arch?: string;
    sourcerpm?: string;
    summary?: string;
  }): Buffer {
    const entries: Array<[number, number, number, number]> = [];
    const data: Buffer[] = [];
    let dl = 0;
    const push = (b: Buffer) => {
      data.push(b);
      dl += b.length;
    };
    const str = (tag: number, s: string) => {
      entries.push([tag, 6, dl, 1]);
      push(Buffer.from(`${s}\0`));
    };
    str(RPMTAG.NAME, tags.name);
    str(RPMTAG.VERSION, tags.version);
    str(RPMTAG.RELEASE, tags.release);
    if (tags.epoch !== undefined) {
      if (dl % 4) push(Buffer.alloc(4 - (dl % 4)));
      entries.push([RPMTAG.EPOCH, 4, dl, 1]);
      const b = Buffer.alloc(4);
      b.writeInt32BE(tags.epoch);
      push(b);
    }
    if (tags.summary) str(1004, tags.summary);
    if (tags.arch) str(RPMTAG.ARCH, tags.arch);
    if (tags.sourcerpm) str(RPMTAG.SOURCERPM, tags.sourcerpm);
    const il = entries.length + 1;
    const trailer = Buffer.alloc(16);
    trailer.writeInt32BE(63, 0);
    trailer.writeUInt32BE(7, 4);
    trailer.writeInt32BE(-il * 16, 8);
    trailer.writeUInt32BE(16, 12);
    const regionOffset = dl;
    push(trailer);
    entries.sort((a, b) => a[0] - b[0]);
    entries.unshift([63, 7, regionOffset, 16]);
    const head = Buffer.alloc(8 + il * 16);
    head.writeUInt32BE(il, 0);
    head.writeUInt32BE(dl, 4);
    entries.forEach(([t, ty, o, c], i) => {
      head.writeInt32BE(t, 8 + i * 16);
      head.writeUInt32BE(ty, 12 + i * 16);
      head.writeInt32BE(o, 16 + i * 16);
      head.writeUInt32BE(c, 20 + i * 16);
    });
    return Buffer.concat([head, ...data]);
  }

  test('rpm: SQLite rpmdb header blobs give name, epoch:version-release, arch and source rpm', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-rpmdb-'));
    try {
      const file = path.join(dir, 'rpmdb.sqlite');
      const db = new Database(file);
      db.pragma('journal_mode = WAL'); // as rpm leaves it
      db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)');
      const ins = db.prepare('INSERT INTO Packages (blob) VALUES (?)');
      ins.run(
        rpmHeaderBlob({
          name: 'openssl-libs',
          version: '3.0.7',
          release: '27.el9',
          epoch: 1,
          arch: 'x86_64',
          sourcerpm: 'openssl-3.0.7-27.el9.src.rpm',
        }),
      );
      ins.run(rpmHeaderBlob({ name: 'bash', version: '5.1.8', release: '9.el9', arch: 'x86_64', sourcerpm: 'bash-5.1.8-9.el9.src.rpm' }));
      ins.run(
        rpmHeaderBlob({
          name: 'tzdata',
          version: '2024a',
          release: '1.el9',
          epoch: 0,
          arch: 'noarch',
          sourcerpm: 'tzdata-2024a-1.el9.src.rpm',
        }),
      );
      ins.run(rpmHeaderBlob({ name: 'gpg-pubkey', version: 'fd431d51', release: '4ae0493b' }));
      ins.run(Buffer.from([0, 0, 0, 9, 0, 0])); // a botched blob: skipped with a warning
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
      const warnings: string[] = [];
      const r = await index([await layer([{ name: 'var/lib/rpm/rpmdb.sqlite', data: readFileSync(file) }])], {
        onWarning: (m) => warnings.push(m),
      });
      assert.deepEqual(
        r.packages.map((p) => [p.ecosystem, p.name, p.version, p.arch, p.source]),
        [
          ['rpm', 'openssl-libs', '1:3.0.7-27.el9', 'x86_64', { name: 'openssl', version: '1:3.0.7-27.el9' }],
          ['rpm', 'bash', '5.1.8-9.el9', 'x86_64', { name: 'bash', version: '5.1.8-9.el9' }],
          ['rpm', 'tzdata', '2024a-1.el9', 'noarch', { name: 'tzdata', version: '2024a-1.el9' }],
        ],
      );
      assert.ok(
        warnings.some((w) => /1 unreadable package header/.test(w)),
        warnings.join('\n'),
      );
      const h = new RpmHeader(rpmHeaderBlob({ name: 'x', version: '1', release: '2', epoch: 3 }));
      assert.equal(h.string(RPMTAG.NAME), 'x');
      assert.equal(h.int(RPMTAG.EPOCH), 3);
      assert.deepEqual(parseSourceRpm('python3.11-3.11.5-1.el9.nosrc.rpm'), { name: 'python3.11', version: '3.11.5-1.el9' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  const SYS_PYTHON = '/usr/bin/python3';
  const haveBdb = spawnSync(SYS_PYTHON, ['-c', 'import dbm.ndbm; assert dbm.ndbm.library == "Berkeley DB"']).status === 0;
  test('rpm: Berkeley DB Packages (RHEL 7/8) written by libdb itself: on-page and multi-page overflow values', {
    skip: !haveBdb && `${SYS_PYTHON} has no Berkeley DB dbm module to write a test database`,
  }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-bdb-'));
    try {
      const blobs = [
        rpmHeaderBlob({
          name: 'glibc',
          version: '2.28',
          release: '225.el8',
          arch: 'x86_64',
          sourcerpm: 'glibc-2.28-225.el8.src.rpm',
          summary: 'The GNU libc libraries. '.repeat(600),
        }),
        rpmHeaderBlob({
          name: 'openssl-libs',
          version: '1.1.1k',
          release: '9.el8_7',
          epoch: 1,
          arch: 'x86_64',
          sourcerpm: 'openssl-1.1.1k-9.el8_7.src.rpm',
        }),
        rpmHeaderBlob({ name: 'tiny', version: '1', release: '1', arch: 'noarch' }),
      ];
      for (const [i, b] of blobs.entries()) writeFileSync(path.join(dir, `h${i + 1}`), b);
      // Python's dbm.ndbm on Debian is libdb's ndbm emulation: a hash database, as rpm's Packages is.
      const py = `import dbm.ndbm, struct, os, sys
d = dbm.ndbm.open(os.path.join(sys.argv[1], 'Packages'), 'n')
d[struct.pack('<I', 0)] = struct.pack('<I', 3)
for i in (1, 2, 3):
    d[struct.pack('<I', i)] = open(os.path.join(sys.argv[1], 'h%d' % i), 'rb').read()
d.close()`;
      const w = spawnSync(SYS_PYTHON, ['-c', py, dir], { encoding: 'utf8' });
      assert.equal(w.status, 0, w.stderr);
      const db = readFileSync(path.join(dir, 'Packages.db'));
      assert.equal(db.readUInt32LE(12), 0x061561, 'a Berkeley DB hash file');
      const r = await index([await layer([{ name: 'var/lib/rpm/Packages', data: db }])]);
      assert.deepEqual(r.packages.map((p) => [p.name, p.version, p.arch, p.source]).sort(), [
        ['glibc', '2.28-225.el8', 'x86_64', { name: 'glibc', version: '2.28-225.el8' }],
        ['openssl-libs', '1:1.1.1k-9.el8_7', 'x86_64', { name: 'openssl', version: '1:1.1.1k-9.el8_7' }],
        ['tiny', '1-1', 'noarch', undefined],
      ]);
      assert.deepEqual(r.perLayer[0].warnings, []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('indexer: language packages', () => {
  test('python: dist-info METADATA, egg-info PKG-INFO directory and bare egg-info file', async () => {
    const sp = 'usr/local/lib/python3.12/site-packages';
    const r = await index([
      await layer([
        {
          name: `${sp}/requests-2.31.0.dist-info/METADATA`,
          data: 'Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nSummary: HTTP\n\nVersion: 9.9.9 in the long description\n',
        },
        { name: `${sp}/requests-2.31.0.dist-info/RECORD`, data: 'x' },
        { name: `${sp}/PyYAML-6.0.1.egg-info/PKG-INFO`, data: 'Metadata-Version: 1.1\r\nName: PyYAML\r\nVersion: 6.0.1\r\n' },
        {
          name: 'usr/lib/python3/dist-packages/distro_info-1.5.egg-info',
          data: 'Metadata-Version: 1.0\nName: distro-info\nVersion: 1.5\n',
        },
        { name: `${sp}/broken.dist-info/METADATA`, data: 'Name: only-a-name\n' },
      ]),
    ]);
    assert.deepEqual(
      r.packages.map((p) => [p.ecosystem, p.name, p.version, p.path]),
      [
        ['pypi', 'requests', '2.31.0', `${sp}/requests-2.31.0.dist-info/METADATA`],
        ['pypi', 'PyYAML', '6.0.1', `${sp}/PyYAML-6.0.1.egg-info/PKG-INFO`],
        ['pypi', 'distro-info', '1.5', 'usr/lib/python3/dist-packages/distro_info-1.5.egg-info'],
      ],
    );
  });

  test('npm: node_modules package.json, scoped and nested; test fixtures and bad JSON skipped', async () => {
    const nm = 'app/node_modules';
    const warnings: string[] = [];
    const r = await index(
      [
        await layer([
          { name: 'app/package.json', data: JSON.stringify({ name: 'my-app', version: '1.0.0' }) },
          { name: `${nm}/express/package.json`, data: JSON.stringify({ name: 'express', version: '4.18.2' }) },
          { name: `${nm}/@babel/core/package.json`, data: JSON.stringify({ name: '@babel/core', version: '7.23.0' }) },
          { name: `${nm}/express/node_modules/debug/package.json`, data: JSON.stringify({ name: 'debug', version: '2.6.9' }) },
          { name: `${nm}/express/lib/package.json`, data: JSON.stringify({ name: 'not-a-package', version: '0' }) },
          { name: `${nm}/resolve/test/fixtures/node_modules/fake/package.json`, data: JSON.stringify({ name: 'fake', version: '6.6.6' }) },
          { name: `${nm}/test/package.json`, data: JSON.stringify({ name: 'test', version: '3.3.0' }) },
          { name: `${nm}/@scope/fixtures/package.json`, data: JSON.stringify({ name: '@scope/fixtures', version: '1.0.0' }) },
          { name: `${nm}/broken/package.json`, data: '{ not json' },
          { name: `${nm}/noversion/package.json`, data: '{"name":"noversion"}' },
        ]),
      ],
      { onWarning: (m) => warnings.push(m) },
    );
    assert.deepEqual(
      r.packages.map((p) => [p.name, p.version, p.path]),
      [
        ['express', '4.18.2', `${nm}/express/package.json`],
        ['@babel/core', '7.23.0', `${nm}/@babel/core/package.json`],
        ['debug', '2.6.9', `${nm}/express/node_modules/debug/package.json`],
        ['test', '3.3.0', `${nm}/test/package.json`],
        ['@scope/fixtures', '1.0.0', `${nm}/@scope/fixtures/package.json`],
      ],
    );
    assert.ok(warnings.some((w) => w.includes('broken/package.json') && /JSON/.test(w)));
  });

  function jar(files: Record<string, string | Buffer>, compress = (name: string) => !name.endsWith('.jar')): Promise<Buffer> {
    const z = new yazl.ZipFile();
    for (const [name, data] of Object.entries(files))
      z.addBuffer(typeof data === 'string' ? Buffer.from(data) : data, name, { compress: compress(name) });
    z.end();
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      z.outputStream
        .on('data', (c: Buffer) => out.push(c))
        .on('end', () => resolve(Buffer.concat(out)))
        .on('error', reject);
    });
  }

  test('java: pom.properties, manifest fallback, file-name fallback, nested jars one level', async () => {
    const lib = await jar({
      'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\r\nImplementation-Title: ignored\r\n\r\n',
      'META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties':
        '#Generated by Maven\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n',
      'org/apache/logging/log4j/core/Logger.class': 'cafebabe',
    });
    const bundle = await jar({
      'META-INF/MANIFEST.MF':
        'Manifest-Version: 1.0\r\nBundle-SymbolicName: com.fasterxml.jackson.core.jackson-data\r\n bind;singleton:=true\r\nBundle-Version: 2.15.2\r\n\r\n',
    });
    const inner = await jar({
      'META-INF/maven/org.yaml/snakeyaml/pom.properties': 'groupId=org.yaml\nartifactId=snakeyaml\nversion=1.33\n',
    });
    const deeper = await jar({ 'META-INF/maven/too/deep/pom.properties': 'groupId=too\nartifactId=deep\nversion=1\n' });
    const fat = await jar({
      'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.JarLauncher\n\n',
      'META-INF/maven/com.example/demo/pom.properties': 'groupId=com.example\nartifactId=demo\nversion=0.0.1-SNAPSHOT\n',
      'BOOT-INF/lib/snakeyaml-1.33.jar': await jar({
        ...{ 'META-INF/maven/org.yaml/snakeyaml/pom.properties': 'groupId=org.yaml\nartifactId=snakeyaml\nversion=1.33\n' },
        'lib/deeper.jar': deeper,
      }),
      'BOOT-INF/lib/plain.jar': inner,
    });
    const r = await index([
      await layer([
        { name: 'opt/app/lib/log4j-core-2.14.1.jar', data: lib },
        { name: 'opt/app/lib/jackson-databind.jar', data: bundle },
        { name: 'opt/app/lib/commons-lang3-3.12.0.jar', data: await jar({ 'a.txt': 'x' }) },
        { name: 'opt/app/app.jar', data: fat },
      ]),
    ]);
    assert.deepEqual(
      r.packages.map((p) => [p.ecosystem, p.name, p.version, p.path]),
      [
        ['maven', 'org.apache.logging.log4j:log4j-core', '2.14.1', 'opt/app/lib/log4j-core-2.14.1.jar'],
        ['maven', 'com.fasterxml.jackson.core.jackson-databind', '2.15.2', 'opt/app/lib/jackson-databind.jar'],
        ['maven', 'commons-lang3', '3.12.0', 'opt/app/lib/commons-lang3-3.12.0.jar'],
        ['maven', 'com.example:demo', '0.0.1-SNAPSHOT', 'opt/app/app.jar'],
        ['maven', 'org.yaml:snakeyaml', '1.33', 'opt/app/app.jar!/BOOT-INF/lib/snakeyaml-1.33.jar'],
        ['maven', 'org.yaml:snakeyaml', '1.33', 'opt/app/app.jar!/BOOT-INF/lib/plain.jar'],
      ],
    );
  });

  test('java: a jar too big to take in memory is spooled to a temp file and gives the same packages', async () => {
    let x = 1;
    const pad = Buffer.alloc(javaScanner.inMemoryBytes! + (1 << 20));
    for (let i = 0; i < pad.length; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      pad.writeInt32LE(x | 0, i);
    }
    const files = {
      'META-INF/maven/org.example/big/pom.properties': 'groupId=org.example\nartifactId=big\nversion=2.0\n',
      'assets/data.bin': pad,
    };
    const big = await jar(files, () => false);
    const small = await jar({ ...files, 'assets/data.bin': 'small' });
    assert.ok(big.length > javaScanner.inMemoryBytes! && small.length < javaScanner.inMemoryBytes!);
    const tmp = mkdtempSync(path.join(tmpdir(), 'berth-java-'));
    try {
      const r = await index(
        [
          await layer([
            { name: 'opt/big-2.0.jar', data: big },
            { name: 'opt/small-2.0.jar', data: small },
          ]),
        ],
        { tmpDir: tmp },
      );
      assert.deepEqual(
        r.packages.map((p) => [p.name, p.version, p.path]),
        [
          ['org.example:big', '2.0', 'opt/big-2.0.jar'],
          ['org.example:big', '2.0', 'opt/small-2.0.jar'],
        ],
      );
      assert.deepEqual(readdirSync(tmp), [], 'temp files removed');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('indexer: Go binaries', () => {
  const BIN = '/usr/bin/docker-registry';

  test("a real Go binary (Debian's docker-registry) read as it streams: toolchain and main package", {
    skip: !existsSync(BIN) && `${BIN} is not installed`,
  }, async () => {
    const bin = readFileSync(BIN);
    const r = await index([
      await layer([
        { name: 'bin/registry', data: bin, mode: 0o755 },
        { name: 'bin/same-but-not-executable', data: bin, mode: 0o644 },
        { name: 'bin/script.sh', data: `#!/bin/sh\n${'echo hi\n'.repeat(4096)}`, mode: 0o755 },
        { name: 'bin/dpkg', data: readFileSync('/usr/bin/dpkg'), mode: 0o755 }, // a C program: not Go
      ]),
    ]);
    const go = r.packages.filter((p) => p.ecosystem === 'go');
    assert.ok(
      go.every((p) => p.path === 'bin/registry'),
      JSON.stringify(go),
    );
    const std = find(go, 'go', 'stdlib')!;
    assert.match(std.version, /^1\.\d+\.\d+$/);
    // What `go version -m` prints first: the toolchain; it is in the binary's bytes as "go1.x.y".
    assert.ok(bin.includes(Buffer.from(`go${std.version}`)), `go${std.version} occurs in the binary`);
    assert.equal(std.version, '1.19.8', 'Debian bookworm builds docker-registry with Go 1.19.8');
    // Debian builds in GOPATH mode: a `path` line, no `mod`/`dep` lines, so no module versions.
    assert.deepEqual(
      go.map((p) => [p.name, p.version]),
      [
        ['stdlib', '1.19.8'],
        ['github.com/docker/distribution/cmd/registry', ''],
      ],
    );
    assert.equal(r.perLayer[0].warnings.length, 0, r.perLayer[0].warnings.join('\n'));
  });

  test('Go >= 1.18 inline build info: module, deps and replacements', () => {
    const start = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
    const end = Buffer.from('f932433186182072008242104116d8f2', 'hex');
    const mod = Buffer.concat([
      start,
      Buffer.from(
        [
          'path\texample.com/cmd/tool',
          'mod\texample.com\tv1.4.2\th1:abc=',
          'dep\tgithub.com/distribution/reference\tv0.5.0\th1:def=',
          'dep\tgolang.org/x/net\tv0.10.0\th1:ghi=',
          '=>\tgolang.org/x/net\tv0.23.0\th1:jkl=',
          'dep\tgithub.com/local/thing\tv0.0.0',
          '=>\t../thing\t',
          'build\t-compiler=gc',
          'build\tCGO_ENABLED=0',
          '',
        ].join('\n'),
      ),
      end,
    ]);
    const hdr = Buffer.alloc(32);
    Buffer.from('\xff Go buildinf:', 'latin1').copy(hdr);
    hdr[14] = 8;
    hdr[15] = 2;
    const v = Buffer.from('go1.22.3');
    const blob = Buffer.concat([hdr, Buffer.from([v.length]), v, Buffer.from([(mod.length & 0x7f) | 0x80, mod.length >> 7]), mod]);
    const short = decodeInlineBuildInfo(blob.subarray(0, 50));
    assert.ok(typeof short === 'number' && short > 50, 'a cut-off blob asks for more bytes');
    const info = decodeInlineBuildInfo(blob);
    assert.ok(info && typeof info === 'object');
    assert.equal(info.goVersion, 'go1.22.3');
    assert.deepEqual(info.settings, [
      ['-compiler', 'gc'],
      ['CGO_ENABLED', '0'],
    ]);
    assert.deepEqual(
      packagesFromBuildInfo(info).map((p) => `${p.name}@${p.version}`),
      [
        'stdlib@1.22.3',
        'example.com@v1.4.2',
        'github.com/distribution/reference@v0.5.0',
        'golang.org/x/net@v0.23.0',
        'github.com/local/thing@v0.0.0',
      ],
    );
    assert.equal(parseModInfo('go1.20', '').deps.length, 0);
  });

  test('Go 1.13-1.17 pointer-format build info in a (synthetic) ELF is resolved from the spooled file', async () => {
    // ELF64 LE: R segment (strings) at file 0x1000 / va 0x401000, RW segment at 0x11000 / va 0x411000
    // holding the build info header at +0x40 and the two Go string headers at +0x100; a Go build ID note.
    const size = 0x12000;
    const f = Buffer.alloc(size);
    Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(f);
    f.writeUInt16LE(2, 16);
    f.writeUInt16LE(62, 18);
    f.writeUInt32LE(1, 20);
    f.writeBigUInt64LE(64n, 0x20);
    f.writeUInt16LE(64, 0x34);
    f.writeUInt16LE(56, 0x36);
    f.writeUInt16LE(3, 0x38);
    const ph = (i: number, type: number, flags: number, off: number, va: number, sz: number) => {
      const p = 64 + i * 56;
      f.writeUInt32LE(type, p);
      f.writeUInt32LE(flags, p + 4);
      f.writeBigUInt64LE(BigInt(off), p + 8);
      f.writeBigUInt64LE(BigInt(va), p + 16);
      f.writeBigUInt64LE(BigInt(va), p + 24);
      f.writeBigUInt64LE(BigInt(sz), p + 32);
      f.writeBigUInt64LE(BigInt(sz), p + 40);
      f.writeBigUInt64LE(0x1000n, p + 48);
    };
    ph(0, 4, 4, 0x200, 0x400200, 0x20); // PT_NOTE
    ph(1, 1, 4, 0x1000, 0x401000, 0x10000); // PT_LOAD R
    ph(2, 1, 6, 0x11000, 0x411000, 0x1000); // PT_LOAD RW
    f.writeUInt32LE(4, 0x200);
    f.writeUInt32LE(8, 0x204);
    f.writeUInt32LE(4, 0x208);
    f.write('Go\0\0', 0x20c, 'latin1');
    f.write('buildid!', 0x210);
    const version = Buffer.from('go1.16.15');
    const start = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
    const end = Buffer.from('f932433186182072008242104116d8f2', 'hex');
    const mod = Buffer.concat([
      start,
      Buffer.from('path\told.example/cmd\nmod\told.example\tv0.9.0\th1:x=\ndep\tgopkg.in/yaml.v2\tv2.2.8\th1:y=\n'),
      end,
    ]);
    version.copy(f, 0x1000 + 0x8000);
    mod.copy(f, 0x1000 + 0x8100);
    f.write('\xff Go buildinf:', 0x11040, 'latin1');
    f[0x11040 + 14] = 8;
    f[0x11040 + 15] = 0;
    f.writeBigUInt64LE(0x411100n, 0x11040 + 16);
    f.writeBigUInt64LE(0x411110n, 0x11040 + 24);
    f.writeBigUInt64LE(0x409000n, 0x11100);
    f.writeBigUInt64LE(BigInt(version.length), 0x11108);
    f.writeBigUInt64LE(0x409100n, 0x11110);
    f.writeBigUInt64LE(BigInt(mod.length), 0x11118);
    const r = await index([await layer([{ name: 'usr/local/bin/old', data: f, mode: 0o755 }])]);
    assert.deepEqual(
      r.packages.map((p) => `${p.name}@${p.version}`),
      ['stdlib@1.16.15', 'old.example@v0.9.0', 'gopkg.in/yaml.v2@v2.2.8'],
    );
  });
});

describe('indexer: os-release', () => {
  test('variants: quoting, escapes, comments, Ubuntu codename, CPE', () => {
    const kv = parseOsRelease(
      [
        '# comment',
        'NAME="Red Hat Enterprise Linux"',
        "VERSION='9.3 (Plow)'",
        'ID=rhel',
        'ID_LIKE="fedora"',
        'VERSION_ID="9.3"',
        'PRETTY_NAME="Red Hat \\"Enterprise\\" Linux 9.3 (Plow)"',
        'CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"',
        'BROKEN LINE',
        'EMPTY=',
      ].join('\n'),
    );
    assert.deepEqual(distributionFromOsRelease(kv), {
      id: 'rhel',
      name: 'Red Hat Enterprise Linux',
      version: '9.3 (Plow)',
      version_id: '9.3',
      pretty_name: 'Red Hat "Enterprise" Linux 9.3 (Plow)',
      cpe: 'cpe:/o:redhat:enterprise_linux:9::baseos',
    });
    assert.equal(
      distributionFromOsRelease(parseOsRelease('ID=ubuntu\nVERSION_ID="22.04"\nUBUNTU_CODENAME=jammy\n'))?.version_codename,
      'jammy',
    );
    assert.equal(distributionFromOsRelease(parseOsRelease('# nothing here\n')), undefined);
  });

  test('etc/os-release wins over usr/lib/os-release; a symlink falls through; Alpine', async () => {
    const deb =
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nID=debian\n';
    const r1 = await index([
      await layer([
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { name: 'usr/lib/os-release', data: deb },
      ]),
    ]);
    assert.deepEqual(r1.distribution, {
      id: 'debian',
      name: 'Debian GNU/Linux',
      version_id: '12',
      version_codename: 'bookworm',
      pretty_name: 'Debian GNU/Linux 12 (bookworm)',
    });
    const r2 = await index([
      await layer([{ name: 'usr/lib/os-release', data: deb }]),
      await layer([
        { name: 'etc/os-release', data: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME="Alpine Linux v3.19"\n' },
      ]),
    ]);
    assert.equal(r2.distribution?.id, 'alpine');
    assert.equal(r2.distribution?.version_id, '3.19.1');
    const r3 = await index([await layer([{ name: 'etc/hostname', data: 'x\n' }])]);
    assert.equal(r3.distribution, undefined);
    assert.deepEqual(r3.packages, []);
  });
});

describe('indexer: whiteouts', () => {
  // A scanner that records every regular file, to look at the layered view itself.
  const everything: Scanner = {
    name: 'everything',
    version: 1,
    kind: 'package',
    input: 'buffer',
    maxBytes: 1 << 20,
    claims: (_p, i) => i.type === 'file',
    scan: () => ({}),
  };
  const fixture = (n: string) => readFileSync(path.join(fixturesDir, `whiteout_testdata_${n}.layer`));
  const visible = (layers: LayerResult[]) => {
    const v = new LayeredView<true>();
    for (const l of layers)
      v.apply({ whiteouts: l.whiteouts, opaqueDirs: l.opaqueDirs, entries: l.files.map((f) => [f.path, true] as const) });
    return [...v.entries()].map(([p, { layerIndex }]) => `${layerIndex}:${p}`).sort();
  };

  test('claircore whiteout layers: .wh.<name> files and .wh..wh..opq are read as whiteouts', { skip: sharedSkip }, async () => {
    const read = (n: string) => readLayer(stream(fixture(n)), [everything]);
    const plain = await read('whiteout');
    assert.equal(plain.compression, 'none');
    assert.deepEqual(plain.whiteouts, ['etc/profile']);
    const adv = await read('whiteout_advanced');
    assert.deepEqual(adv.whiteouts.sort(), ['a/a_file.txt', 'a_root_file.txt', 'b']);
    const opq = await read('whiteout_opaque');
    assert.deepEqual(opq.opaqueDirs, ['a']);
    assert.deepEqual(
      opq.files.map((f) => f.path),
      ['b/not.a.wh..wh..opq'],
      'a file merely named like an opaque marker is a file',
    );

    const lower = await readLayer(
      stream(
        await layer([
          { name: 'etc/profile', data: 'p' },
          { name: 'etc/profile.d/x.sh', data: 'x' },
          { name: 'a/a_file.txt', data: '1' },
          { name: 'a/keep.txt', data: '2' },
          { name: 'a_root_file.txt', data: '3' },
          { name: 'b/x', data: '4' },
          { name: 'b/y/z', data: '5' },
          { name: 'bb/keep', data: '6' },
        ]),
      ),
      [everything],
    );
    assert.deepEqual(visible([lower, plain]), [
      '0:a/a_file.txt',
      '0:a/keep.txt',
      '0:a_root_file.txt',
      '0:b/x',
      '0:b/y/z',
      '0:bb/keep',
      '0:etc/profile.d/x.sh',
    ]);
    assert.deepEqual(visible([lower, adv]), ['0:a/keep.txt', '0:bb/keep', '0:etc/profile', '0:etc/profile.d/x.sh']);
    assert.deepEqual(visible([lower, opq]), [
      '0:a_root_file.txt',
      '0:b/x',
      '0:b/y/z',
      '0:bb/keep',
      '0:etc/profile',
      '0:etc/profile.d/x.sh',
      '1:b/not.a.wh..wh..opq',
    ]);
    // An opaque directory keeps what its own layer adds; a whiteout only acts on lower layers.
    const own = await readLayer(
      stream(
        await layer([
          { name: 'a/.wh..wh..opq', data: '' },
          { name: 'a/new.txt', data: 'n' },
          { name: '.wh.bb', data: '' },
          { name: 'bb/keep', data: 'again' },
        ]),
      ),
      [everything],
    );
    assert.deepEqual(visible([lower, own]), [
      '0:a_root_file.txt',
      '0:b/x',
      '0:b/y/z',
      '0:etc/profile',
      '0:etc/profile.d/x.sh',
      '1:a/new.txt',
      '1:bb/keep',
    ]);
  });

  test('a package database deleted in an upper layer no longer counts; a rewritten one keeps the introducing layer', async () => {
    const st = (...pkgs: string[]) =>
      pkgs
        .map((p) => {
          const [n, v] = p.split('=');
          return `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\nArchitecture: amd64\n`;
        })
        .join('\n');
    const base = await layer([
      { name: 'var/lib/dpkg/status', data: st('libc6=2.36-9', 'openssl=3.0.11-1') },
      { name: 'etc/os-release', data: 'ID=debian\nVERSION_ID=12\n' },
    ]);
    const upgrade = await layer([{ name: 'var/lib/dpkg/status', data: st('libc6=2.36-9', 'openssl=3.0.13-1', 'curl=7.88.1-10') }]);
    const r = await index([base, upgrade]);
    assert.deepEqual(
      r.packages.map((p) => `${p.layerIndex}:${p.name}=${p.version}`),
      ['0:libc6=2.36-9', '1:openssl=3.0.13-1', '1:curl=7.88.1-10'],
    );

    const wipe = await layer([{ name: 'var/lib/dpkg/.wh.status', data: '' }]);
    assert.deepEqual((await index([base, wipe])).packages, []);
    const wipeDir = await layer([{ name: 'var/lib/.wh.dpkg', data: '' }]);
    assert.deepEqual((await index([base, upgrade, wipeDir])).packages, []);
    // Deleted, then written again: present from the layer that wrote it back.
    const back = await layer([{ name: 'var/lib/dpkg/status', data: st('libc6=2.36-9') }]);
    assert.deepEqual(
      (await index([base, wipe, back])).packages.map((p) => `${p.layerIndex}:${p.name}`),
      ['2:libc6'],
    );
    assert.equal((await index([base, wipe])).distribution?.id, 'debian');
    assert.equal((await index([base, await layer([{ name: 'etc/.wh.os-release', data: '' }])])).distribution, undefined);
  });

  test("an opaque site-packages directory hides the lower layer's Python packages", async () => {
    const sp = 'usr/lib/python3/site-packages';
    const meta = (n: string, v: string) => `Name: ${n}\nVersion: ${v}\n`;
    const r = await index([
      await layer([
        { name: `${sp}/foo-1.0.dist-info/METADATA`, data: meta('foo', '1.0') },
        { name: `${sp}/bar-1.0.dist-info/METADATA`, data: meta('bar', '1.0') },
      ]),
      await layer([
        { name: `${sp}/.wh..wh..opq`, data: '' },
        { name: `${sp}/bar-2.0.dist-info/METADATA`, data: meta('bar', '2.0') },
      ]),
    ]);
    assert.deepEqual(
      r.packages.map((p) => `${p.layerIndex}:${p.name}=${p.version}`),
      ['1:bar=2.0'],
    );
  });
});

describe('indexer: tar parsing', () => {
  // The reader's own tar parser (src/scanner/indexer/tar.ts) against tar-stream, on archives GNU tar
  // writes in each of its formats (long names and link names, ustar prefixes, PAX records,
  // non-ASCII names, hard links, symlinks, empty files, big uids in base-256) and on this machine's
  // /etc: the same entries, headers and bytes, whatever the chunking.
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-tar-'));
    const root = path.join(dir, 'root');
    const deep = path.join(root, 'a'.repeat(60), 'b'.repeat(60));
    spawnSync('mkdir', ['-p', deep, path.join(root, 'empty-dir')]);
    writeFileSync(path.join(deep, `${'c'.repeat(70)}.txt`), 'a long name\n');
    writeFileSync(path.join(root, 'plain.txt'), Buffer.alloc(70_000, 'plain body '));
    writeFileSync(path.join(root, 'empty'), '');
    writeFileSync(path.join(root, 'grüße-日本.txt'), 'non-ASCII name\n');
    spawnSync('chmod', ['0755', path.join(root, 'plain.txt')]);
    spawnSync('ln', ['-s', `../${'t'.repeat(120)}`, path.join(root, 'long-link')]);
    spawnSync('ln', [path.join(root, 'plain.txt'), path.join(root, 'hard.txt')]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  interface Seen {
    name: string;
    size: number;
    mode: number;
    type: string | null;
    linkname: string | null;
    body: string;
  }
  async function withTarStream(buf: Buffer): Promise<Seen[]> {
    const ex = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
    const out: Seen[] = [];
    const done = (async () => {
      for await (const e of ex as AsyncIterable<AsyncIterable<Buffer> & { header: tar.Header }>) {
        const parts: Buffer[] = [];
        for await (const c of e) parts.push(c);
        const h = e.header;
        out.push({
          name: h.name,
          size: h.size ?? 0,
          mode: h.mode ?? 0,
          type: h.type ?? null,
          linkname: h.linkname ?? null,
          body: Buffer.concat(parts).toString('base64'),
        });
      }
    })();
    ex.end(buf);
    await done;
    return out;
  }
  function withOurs(buf: Buffer, chunk: number): Seen[] {
    const p = new TarParser();
    const out: Seen[] = [];
    let parts: Buffer[] = [];
    for (let i = 0; i < buf.length; i += chunk) {
      p.push(buf.subarray(i, i + chunk));
      for (let item = p.next(); item !== undefined; item = p.next()) {
        if (item instanceof Uint8Array) parts.push(item);
        else out.push({ name: item.name, size: item.size, mode: item.mode, type: item.type, linkname: item.linkname, body: '' });
        if (p.bodyDone && out.length) {
          out[out.length - 1].body = Buffer.concat(parts).toString('base64');
          parts = [];
        }
      }
    }
    p.end();
    return out;
  }

  for (const format of ['gnu', 'oldgnu', 'ustar', 'pax', 'v7']) {
    test(`GNU tar --format=${format}: the same entries as tar-stream, in chunks of 1 byte to 1 MiB`, async () => {
      // v7 cannot hold names or link names over 99 bytes; ustar refuses the 120-byte link name.
      const skip = format === 'v7' ? ['a'.repeat(60), 'long-link'] : format === 'ustar' ? ['long-link'] : [];
      const args = ['-c', `--format=${format}`, ...skip.map((n) => `--exclude=./${n}`)];
      if (format === 'gnu') args.push('--owner=:3000000000'); // a uid too big for octal: base-256
      args.push('-C', path.join(dir, 'root'), '.');
      const r = spawnSync('tar', args, { maxBuffer: 1 << 26 });
      assert.equal(r.status, 0, String(r.stderr));
      const want = await withTarStream(r.stdout);
      assert.ok(want.length >= 6, `${want.length} entries`);
      for (const chunk of [1, 511, 513, 4099, 1 << 20]) assert.deepEqual(withOurs(r.stdout, chunk), want, `chunks of ${chunk}`);
    });
  }

  test("this machine's /etc (GNU and PAX formats): the same entries as tar-stream", async () => {
    for (const format of ['gnu', 'pax']) {
      const r = spawnSync('tar', ['-c', `--format=${format}`, '-C', '/', '--ignore-failed-read', 'etc'], { maxBuffer: 1 << 28 });
      assert.ok(r.stdout.length > 100_000, String(r.stderr));
      const want = await withTarStream(r.stdout);
      assert.deepEqual(withOurs(r.stdout, 65_536), want);
    }
  });

  test('an empty PAX header (no records) is passed over, even as the last bytes pushed so far', async () => {
    const file = spawnSync('tar', ['-c', '--format=ustar', '-C', path.join(dir, 'root'), 'plain.txt']).stdout;
    const pax = Buffer.from(file.subarray(0, 512));
    pax.write('PaxHeaders/plain.txt\0', 0, 'latin1');
    pax[156] = 0x78; // 'x'
    pax.write('00000000000\0', 124, 'latin1'); // size 0
    pax.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of pax) sum += byte;
    pax.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const archive = Buffer.concat([pax, file]);
    assert.deepEqual(withOurs(archive, 512), await withTarStream(archive));
    assert.equal(withOurs(archive, 512)[0].name, 'plain.txt');
  });

  test("corrupt and truncated tars fail with tar-stream's messages", () => {
    const good = spawnSync('tar', ['-c', '-C', path.join(dir, 'root'), 'plain.txt']).stdout;
    const bad = Buffer.from(good);
    bad[10] ^= 0xff;
    assert.throws(
      () => withOurs(bad, 4096),
      (e: Error) => e instanceof TarFormatError && /Invalid tar header/.test(e.message),
    );
    assert.throws(
      () => withOurs(good.subarray(0, 5000), 4096),
      (e: Error) => e instanceof TarFormatError && /Unexpected end of data/.test(e.message),
    );
  });
});

describe('indexer: layer reading', () => {
  const deb = 'Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\nArchitecture: amd64\n';

  test('gzip, zstd and plain tar layers give the same result; compression is detected from the bytes', async (t) => {
    const entries: E[] = [
      { name: 'var/lib/dpkg/status', data: deb },
      { name: 'etc/os-release', data: 'ID=debian\n' },
    ];
    const comps: Comp[] = HAVE_ZSTD ? ['gzip', 'zstd', 'none'] : ['gzip', 'none'];
    if (!HAVE_ZSTD) t.diagnostic('zstd binary not installed: zstd layer case SKIPPED (apt-get install zstd)');
    for (const comp of comps) {
      const r = await index([await layer(entries, comp)]);
      assert.equal(r.perLayer[0].compression, comp);
      assert.deepEqual(
        r.packages.map((p) => `${p.name}=${p.version}`),
        ['bash=5.2.15-2+b2'],
        comp,
      );
      assert.equal(r.distribution?.id, 'debian');
    }
  });

  test('zstd: a multi-megabyte layer streamed in small chunks; a truncated one is a clear error; the layers after it still index', {
    skip: !HAVE_ZSTD && 'zstd binary not installed',
  }, async () => {
    const big = Buffer.alloc(6 << 20, 'filler text that compresses well ');
    const z = await layer(
      [
        { name: 'usr/share/big.txt', data: big },
        { name: 'var/lib/dpkg/status', data: deb },
      ],
      'zstd',
    );
    const r = await indexLayers([() => stream(z, 1000)]);
    assert.equal(r.packages.length, 1);
    assert.equal(r.perLayer[0].bytes, big.length + deb.length);
    await assert.rejects(
      index([z.subarray(0, z.length - 100)]),
      (e: Error) => e instanceof LayerFormatError && /layer 0: layer is not a valid zstd stream \(truncated or corrupt\)/.test(e.message),
    );
    // Decoder threads are reused between layers: neither a failed layer nor two at once leave one in a bad state.
    const again = await Promise.all([index([z, z]), index([z])]);
    assert.deepEqual(
      again.map((x) => x.perLayer.map((l) => l.bytes)),
      [[big.length + deb.length, big.length + deb.length], [big.length + deb.length]],
    );
    assert.deepEqual(
      again.map((x) => x.packages.length),
      [1, 1],
    );
  });

  test('path tricks: ../ entries are ignored with a warning, absolute and ./ paths are normalised', async () => {
    const warnings: string[] = [];
    const r = await index(
      [
        await layer(
          [
            { name: '../etc/os-release', data: 'ID=evil\n' },
            { name: 'etc/../../var/lib/dpkg/status', data: 'Package: evil\nStatus: install ok installed\nVersion: 6\n' },
            { name: '/var/lib/dpkg/status', data: deb },
            { name: './etc//os-release', data: 'ID=debian\n' },
          ],
          'none',
        ),
      ],
      { onWarning: (m) => warnings.push(m) },
    );
    assert.deepEqual(
      r.packages.map((p) => [p.name, p.path]),
      [['bash', 'var/lib/dpkg/status']],
    );
    assert.equal(r.distribution?.id, 'debian');
    assert.equal(warnings.filter((w) => /outside the root/.test(w)).length, 2, warnings.join('\n'));
  });

  test('truncated or corrupt layers are a LayerFormatError that names the layer, not a crash', async () => {
    const good = await layer([
      { name: 'var/lib/dpkg/status', data: deb },
      { name: 'usr/share/doc/x', data: Buffer.alloc(200_000, 7) },
    ]);
    const cases: Array<[string, Buffer, RegExp]> = [
      [
        'truncated gzip',
        good.subarray(0, Math.floor(good.length / 2)),
        /layer 1 \(sha256:bad\): layer is not a valid gzip stream \(truncated or corrupt\): unexpected end of file/,
      ],
      ['corrupt gzip', Buffer.concat([good.subarray(0, 20), Buffer.alloc(200, 0xaa), good.subarray(220)]), /not a valid gzip stream/],
      ['not a tar', Buffer.from('this is not a tar archive at all, just some text'.repeat(20)), /not a valid tar archive/],
      [
        'truncated tar',
        (await tarOf([{ name: 'usr/share/doc/x', data: Buffer.alloc(200_000, 7) }])).subarray(0, 100_000),
        /not a valid tar archive \(truncated or corrupt\)/,
      ],
      ['xz', Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2, 3]), /xz-compressed; only gzip, zstd and uncompressed tar/],
    ];
    const empty = await layer([]);
    for (const [what, blob, re] of cases) {
      await assert.rejects(index([empty, blob], { digests: ['sha256:ok', 'sha256:bad'] }), (e: Error) => {
        assert.ok(e instanceof LayerFormatError, `${what}: ${e}`);
        assert.match(e.message, re, what);
        return true;
      });
    }
    // A stream that fails while being read.
    const failing = () =>
      new Readable({
        read() {
          this.destroy(new Error('disk on fire'));
        },
      });
    await assert.rejects(indexLayers([failing]), /layer 0: layer could not be read: disk on fire/);
    // An empty blob and an empty tar are layers with nothing in them.
    const r = await index([Buffer.alloc(0), empty]);
    assert.deepEqual(r.packages, []);
    assert.deepEqual(
      r.perLayer.map((l) => l.entries),
      [0, 0],
    );
  });

  test("a claimed file beyond its scanner's cap is skipped with a warning; others in the layer still count", async () => {
    const warnings: string[] = [];
    const huge = `Name: huge\nVersion: 1.0\n\n${'x'.repeat(5 * 1024 * 1024)}`;
    const r = await index(
      [
        await layer([
          { name: 'usr/lib/python3/site-packages/huge-1.0.dist-info/METADATA', data: huge },
          { name: 'usr/lib/python3/site-packages/small-1.0.dist-info/METADATA', data: 'Name: small\nVersion: 1.0\n' },
          { name: 'var/lib/dpkg/status', data: deb.repeat(1) },
        ]),
      ],
      { onWarning: (m) => warnings.push(m), limits: { dpkg: 16 } },
    );
    assert.deepEqual(
      r.packages.map((p) => p.name),
      ['small'],
    );
    assert.ok(
      warnings.some((w) =>
        /huge-1\.0\.dist-info\/METADATA: skipped: too large \(5242\d+ bytes > 4194304 byte cap of the python scanner\)/.test(w),
      ),
      warnings.join('\n'),
    );
    assert.ok(
      warnings.some((w) => /var\/lib\/dpkg\/status: skipped: too large \(\d+ bytes > 16 byte cap of the dpkg scanner\)/.test(w)),
      warnings.join('\n'),
    );
    const skipped = r.perLayer[0].files
      .filter((f) => f.skipped)
      .map((f) => f.path)
      .sort();
    assert.deepEqual(skipped, ['usr/lib/python3/site-packages/huge-1.0.dist-info/METADATA', 'var/lib/dpkg/status']);
  });

  test('big entries stream through without being buffered (256 MiB unclaimed, 256 MiB executable non-ELF)', async () => {
    const SIZE = 256 * 1024 * 1024;
    const pack = tar.pack();
    const chunk = Buffer.alloc(1 << 20, 0x41);
    const writeBig = async (name: string, mode: number) => {
      const e = pack.entry({ name, size: SIZE, mode });
      for (let n = 0; n < SIZE; n += chunk.length) if (!e.write(chunk)) await new Promise<void>((r) => e.once('drain', () => r()));
      await new Promise<void>((r) => e.end(r));
    };
    void (async () => {
      await writeBig('usr/share/huge.bin', 0o644);
      await writeBig('usr/bin/huge-tool', 0o755);
      pack.entry({ name: 'var/lib/dpkg/status' }, deb, () => pack.finalize());
    })();
    // Measured above what earlier tests in this file left (their dead buffers wait for V8's schedule: 22-58 MB of
    // them here on Node 24, whose collector runs later than Node 20's).
    const base = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
    }, 2);
    try {
      const r = await readLayer(Readable.from(pack as AsyncIterable<Buffer>), allScanners);
      assert.equal(r.bytes, 2 * SIZE + deb.length);
      assert.deepEqual(
        r.files.map((f) => f.path),
        ['var/lib/dpkg/status'],
      );
    } finally {
      clearInterval(timer);
    }
    assert.ok(peak < 48 * 1024 * 1024, `peak ${peak} bytes of buffers above the start while 512 MiB streamed past`);
  });

  test('per-layer results are cached by digest: a known layer is not opened again; changed scanners re-read', async () => {
    const store = new Map<string, LayerResult>();
    const cache: LayerCache = {
      get: (d) => store.get(d),
      set: (d, r) => {
        store.set(d, structuredClone(r));
      },
    };
    const l1 = await layer([{ name: 'var/lib/dpkg/status', data: deb }]);
    const l2 = await layer([{ name: 'app/node_modules/left-pad/package.json', data: '{"name":"left-pad","version":"1.3.0"}' }]);
    let opened = 0;
    const open = (b: Buffer) => () => {
      opened++;
      return stream(b);
    };
    const first = await indexLayers([open(l1), open(l2)], { digests: ['sha256:1', 'sha256:2'], cache });
    assert.equal(first.layersRead, 2);
    const l3 = await layer([{ name: 'var/lib/dpkg/.wh.status', data: '' }]);
    const second = await indexLayers([open(l1), open(l2), open(l3)], { digests: ['sha256:1', 'sha256:2', 'sha256:3'], cache });
    assert.equal(opened, 3, 'only the new layer was opened');
    assert.equal(second.layersRead, 1);
    assert.deepEqual(
      second.packages.map((p) => `${p.layerIndex}:${p.name}`),
      ['1:left-pad'],
    );
    // Results are plain JSON, and produced by a known list of scanners.
    const json = JSON.parse(JSON.stringify(store.get('sha256:1'))) as LayerResult;
    assert.ok(isCurrent(json));
    assert.deepEqual(
      mergeLayers([json]).packages.map((p) => p.name),
      ['bash'],
    );
    const bumped = allScanners.map((s) => (s.name === 'dpkg' ? { ...s, version: s.version + 1 } : s)) as Scanner[];
    assert.equal(isCurrent(json, bumped), false);
    await indexLayers([open(l1)], { digests: ['sha256:1'], cache, scanners: bumped });
    assert.equal(opened, 4, 'a result from older scanners is redone');
  });

  test('a hard link to a claimed file carries its findings; a symlink at a claimed path shadows lower layers', async () => {
    const r = await index([
      await layer([{ name: 'usr/lib/python3/site-packages/a-1.dist-info/METADATA', data: 'Name: a\nVersion: 1\n' }]),
      await layer([
        { name: 'opt/x/b-1.dist-info/METADATA', data: 'Name: b\nVersion: 1\n' },
        { name: 'opt/y/b-1.dist-info/METADATA', type: 'link', linkname: 'opt/x/b-1.dist-info/METADATA' },
        { name: 'usr/lib/python3/site-packages/a-1.dist-info/METADATA', type: 'symlink', linkname: '/dev/null' },
      ]),
    ]);
    assert.deepEqual(r.packages.map((p) => `${p.layerIndex}:${p.name}:${p.path}`).sort(), [
      '1:b:opt/x/b-1.dist-info/METADATA',
      '1:b:opt/y/b-1.dist-info/METADATA',
    ]);
  });
});

describe('indexer: a whole image', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'berth-idx-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  test('a Debian-like image with language packages across layers; temp files are cleaned up', { skip: sharedSkip }, async () => {
    const r = await index(
      [
        await layer([
          { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
          { name: 'usr/lib/os-release', data: readFileSync('/usr/lib/os-release') },
          { name: 'var/lib/dpkg/status', data: readFileSync(path.join(fixturesDir, 'dpkg_testdata_postgresql.status')) },
        ]),
        await layer(
          [{ name: 'app/node_modules/lodash/package.json', data: '{"name":"lodash","version":"4.17.20"}' }],
          HAVE_ZSTD ? 'zstd' : 'gzip',
        ),
        await layer(
          [{ name: 'usr/local/lib/python3.11/site-packages/Django-4.2.dist-info/METADATA', data: 'Name: Django\nVersion: 4.2\n' }],
          'none',
        ),
      ],
      { tmpDir: dir },
    );
    assert.equal(r.distribution?.id, 'debian');
    assert.deepEqual(
      r.packages.map((p) => `${p.layerIndex}:${p.ecosystem}:${p.name}`),
      ['0:deb:postgresql-client', '0:deb:postgresql-client-11', '0:deb:postgresql-client-common', '1:npm:lodash', '2:pypi:Django'],
    );
    assert.deepEqual(readdirSync(dir), [], 'no temp files left behind');
  });
});
