// Version order against the real tools installed here (issue 13, defect 7): dpkg 1.21 for bytes
// >= 0x80 (signed char), rpm 4.18's rpm.vercmp() for present-but-empty releases, each over its edge
// cases and a generated batch of random pairs; and apk-tools 2.x against 3.x per Alpine release
// (no apk binary here: the 2.x and 3.x vectors and the matcher's choice per release).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { compareDpkg } from '../src/scanner/versions/dpkg.ts';
import { compareRpmEVR, rpm } from '../src/scanner/versions/rpm.ts';
import { apk } from '../src/scanner/versions/apk.ts';
import { apk2, apk2VersionCompare, validApk2 } from '../src/scanner/versions/apk2.ts';
import { apkForRelease, schemeFor } from '../src/scanner/versions/index.ts';
import { match } from '../src/scanner/matcher/index.ts';
import { AdvisoryStore } from '../src/scanner/store.ts';
import { openDatabase } from '../src/db/database.ts';
import type { Advisory } from '../src/scanner/model.ts';
import type { Package } from '../src/scanner/indexer/types.ts';
import { sharedFixture, sharedSkip } from './helpers/shared.ts';
import { prng } from './helpers/prng.ts';

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const opOf = (c: number) => (c < 0 ? '<' : c > 0 ? '>' : '=');

// ---- dpkg ------------------------------------------------------------------------------------

/** dpkg --compare-versions for every pair, in one bash: '<', '=', '>' or 'E' (dpkg refused). */
function dpkgOracle(pairs: Array<[string, string]>): string[] {
  const script = `while IFS=$'\\t' read -r a b; do
  dpkg --compare-versions "$a" lt "$b" 2>/dev/null; r=$?
  if [ $r = 0 ]; then echo '<'
  elif [ $r = 1 ]; then if dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo '='; else echo '>'; fi
  else echo E; fi
done`;
  const res = spawnSync('bash', ['-c', script], {
    input: `${pairs.map((p) => p.join('\t')).join('\n')}\n`,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  assert.equal(res.status, 0, res.stderr);
  const out = res.stdout.trim().split('\n');
  assert.equal(out.length, pairs.length);
  return out;
}

const haveDpkg = has('dpkg', ['--version']);

describe('dpkg: bytes >= 0x80 compare as signed char, as dpkg on amd64 does', () => {
  test('edge cases: between the letters and the ASCII punctuation', { skip: !haveDpkg && 'dpkg is not installed' }, () => {
    const pairs: Array<[string, string]> = [
      ['1.0é', '1.0+'],
      ['1.0é', '1.0z'],
      ['1.0é', '1.0Z'],
      ['1.0é', '1.0.'],
      ['1.0é', '1.0~'],
      ['1.0é', '1.0'],
      ['1.0ü', '1.0é'],
      ['1.0€', '1.0é'],
      ['1.0ÿ', '1.0='],
      ['1.0-1é', '1.0-1+'],
      ['1.0-1é', '1.0-1a'],
      ['1.0é1', '1.0_1'],
      ['1.0aé', '1.0a+'],
      ['2é', '2~'],
      ['1.0\u00a0', '1.0!'],
    ];
    const oracle = dpkgOracle(pairs);
    const bad = pairs.flatMap(([a, b], i) =>
      opOf(compareDpkg(a, b)) === oracle[i] ? [] : [`${a} ${oracle[i]} ${b} (dpkg), ours ${opOf(compareDpkg(a, b))}`],
    );
    assert.deepEqual(bad, []);
    assert.equal(compareDpkg('1.0é', '1.0+'), -1, 'é (0xC3…) sorts before +');
    assert.equal(compareDpkg('1.0é', '1.0z'), 1, 'and after every letter');
  });

  test('a generated batch of random pairs with non-ASCII bytes agrees with dpkg --compare-versions', {
    skip: !haveDpkg && 'dpkg is not installed',
  }, (t) => {
    const r = prng(0x8bad);
    const atoms = [
      '0',
      '1',
      '2',
      '10',
      '01',
      'a',
      'z',
      'A',
      'Z',
      '~',
      '+',
      '.',
      '-',
      ':',
      'é',
      'ü',
      '€',
      'ÿ',
      '\u0100',
      '😀',
      'ß',
      '\u00a0',
    ];
    const gen = () => {
      let s = r.pick(['', '', '1:', '0:']) + r.pick(['0', '1', '2', '10']);
      const n = 1 + r.int(6);
      for (let i = 0; i < n; i++) s += r.pick(atoms);
      return s;
    };
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < 500; i++) {
      const a = gen();
      // Half the pairs share a prefix, so the byte that decides is the interesting one.
      const b = r.int(2) ? a.slice(0, r.int(a.length + 1)) + r.pick(atoms) + r.pick(atoms) : gen();
      pairs.push([a, b]);
    }
    const oracle = dpkgOracle(pairs);
    let compared = 0;
    let nonAscii = 0;
    const bad: string[] = [];
    pairs.forEach(([a, b], i) => {
      if (oracle[i] === 'E') return;
      compared++;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: any byte outside ASCII
      if (/[^\x00-\x7f]/.test(a + b)) nonAscii++;
      const ours = opOf(compareDpkg(a, b));
      if (ours !== oracle[i]) bad.push(`${JSON.stringify(a)} ${oracle[i]} ${JSON.stringify(b)} (dpkg), ours ${ours}`);
    });
    t.diagnostic(
      `dpkg: ${compared} random pairs compared (${nonAscii} with non-ASCII bytes), ${pairs.length - compared} refused by dpkg, ${bad.length} mismatches`,
    );
    assert.deepEqual(bad.slice(0, 20), []);
    assert.ok(compared >= 300 && nonAscii >= 200, `${compared} compared, ${nonAscii} non-ASCII`);
  });
});

// ---- rpm -------------------------------------------------------------------------------------

const haveRpm = spawnSync('rpm', ['--eval', '%{lua: print(rpm.vercmp("1.0", "1.0"))}'], { encoding: 'utf8' }).stdout?.trim() === '0';

/** rpm 4.18's rpm.vercmp() (rpmverCmp over parsed EVRs) for every pair, in one rpm process. */
function rpmOracle(pairs: Array<[string, string]>): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-rpmvercmp-'));
  try {
    const file = path.join(dir, 'pairs');
    writeFileSync(file, `${pairs.map((p) => p.join('\t')).join('\n')}\n`);
    const lua = `local t = {}; for l in io.lines("${file}") do local a, b = l:match("^(.-)\\t(.*)$"); local ok, r = pcall(rpm.vercmp, a, b); t[#t + 1] = ok and tostring(r) or "E" end; print(table.concat(t, " "))`;
    const res = spawnSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.equal(res.status, 0, res.stderr);
    const out = res.stdout
      .trim()
      .split(' ')
      .map((x) => (x === 'E' ? 'E' : opOf(Number(x))));
    assert.equal(out.length, pairs.length);
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rpm: a present but empty release sorts above a missing one, as rpm 4.18 does', () => {
  test('edge cases', { skip: !haveRpm && 'rpm (with its Lua rpm.vercmp) is not installed' }, () => {
    const pairs: Array<[string, string]> = [
      ['1.0-', '1.0'],
      ['1:2.0-', '1:2.0'],
      ['1.0-0', '1.0-'],
      ['1.0-~', '1.0'],
      ['1.0-~', '1.0-'],
      ['1.0-^', '1.0-'],
      ['1.0-', '1.0-'],
      ['1.0', '1.0-1'],
      [':1.0-', '1.0'],
      ['0:1.0-', '1.0'],
      ['1.0-_', '1.0-'],
      ['1.0-.', '1.0'],
    ];
    const oracle = rpmOracle(pairs);
    const bad = pairs.flatMap(([a, b], i) =>
      opOf(rpm.compare(a, b)) === oracle[i] ? [] : [`${a} ${oracle[i]} ${b} (rpm), ours ${opOf(rpm.compare(a, b))}`],
    );
    assert.deepEqual(bad, []);
    assert.equal(rpm.compare('1.0-', '1.0'), 1);
    assert.equal(rpm.compare('1:2.0-', '1:2.0'), 1);
    assert.equal(rpm.compare('1.0', '1.0-'), -1);
    assert.equal(compareRpmEVR('1.0-', '1.0', { ignoreMissingRelease: true }), 0, 'dependency semantics still ignore a missing release');
  });

  test('a generated batch of random EVR pairs agrees with rpm.vercmp()', {
    skip: !haveRpm && 'rpm (with its Lua rpm.vercmp) is not installed',
  }, (t) => {
    const r = prng(0x4e7);
    const atoms = ['0', '1', '2', '10', '01', '007', 'a', 'b', 'Z', 'rc', 'git', '~', '^', '.', '_', '+', 'é'];
    const part = () => {
      let s = r.pick(['0', '1', '2', '10', 'a']);
      const n = r.int(5);
      for (let i = 0; i < n; i++) s += r.pick(atoms);
      return s;
    };
    const evr = () => r.pick(['', '', '', '0:', '1:', '2:', ':']) + part() + r.pick(['', '', '-', '-' + part(), '-' + part(), '-~', '-^']);
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < 800; i++) {
      const a = evr();
      let b: string;
      switch (r.int(4)) {
        case 0:
          b = a.includes('-') ? a.slice(0, a.lastIndexOf('-')) : `${a}-`;
          break; // drop or add an (empty) release
        case 1:
          b = a + r.pick(atoms);
          break;
        case 2:
          b = a.replace(/^[0-9]*:/, '');
          break;
        default:
          b = evr();
      }
      pairs.push([a, b]);
    }
    const oracle = rpmOracle(pairs);
    const bad: string[] = [];
    let compared = 0;
    pairs.forEach(([a, b], i) => {
      if (oracle[i] === 'E') return;
      compared++;
      const ours = opOf(rpm.compare(a, b));
      if (ours !== oracle[i]) bad.push(`${a} ${oracle[i]} ${b} (rpm), ours ${ours}`);
    });
    t.diagnostic(`rpm: ${compared} random EVR pairs compared, ${pairs.length - compared} refused by rpm, ${bad.length} mismatches`);
    assert.deepEqual(bad.slice(0, 20), []);
    assert.ok(compared >= 700);
  });
});

// ---- apk -------------------------------------------------------------------------------------

describe('apk: apk-tools 2.x up to Alpine 3.22, 3.x from 3.23 and on edge', () => {
  test('leading zeros: 2.x reads them as a count, 3.x compares the group as a string', () => {
    assert.equal(apk2.compare('0.06-r10', '0.049-r10'), -1, 'apk-tools 2.14: (0)(-1)(6) < (0)(-1)(49)');
    assert.equal(apk.compare('0.06-r10', '0.049-r10'), 1, 'apk-tools 3.x: "06" > "049"');
    assert.equal(apk2.compare('1.00', '1.0'), -1, '2.x: two zeros are older than one');
    assert.equal(apk.compare('1.00', '1.0'), 1);
    assert.equal(apk2.compare('1.01', '1.1'), -1, 'both: 1.01 < 1.1');
    assert.equal(apk2.compare('1.0_alpha', '1.0'), 1, "2.x's known quirk after a zero group: the suffix is never reached");
    assert.equal(apk2.compare('1.1_alpha', '1.1'), -1);
    assert.equal(apk2VersionCompare('1.2.3~abc', '1.2.3'), 1);
    assert.ok(!validApk2('1.2.3~abc'), 'no commit hashes before 3.x');
    assert.ok(validApk2('1.2.3_git20230101-r4') && validApk2('0.049-r10'));
  });

  test('both orders pass every line of apk-tools test/version.data', { skip: sharedSkip }, () => {
    const bad: string[] = [];
    let n = 0;
    for (const raw of readFileSync(sharedFixture('apk_version.data'), 'utf8').split('\n')) {
      const l = raw.replace(/#.*/, '').trim();
      if (!l) continue;
      const [a, op, b] = l.split(/\s+/);
      n++;
      const w = op === '<' ? -1 : op === '>' ? 1 : 0;
      if (apk2.compare(a, b) !== w || apk2.compare(b, a) !== -w) bad.push(`2.x: ${l}`);
      if (apk.compare(a, b) !== w || apk.compare(b, a) !== -w) bad.push(`3.x: ${l}`);
    }
    assert.equal(n, 728);
    assert.deepEqual(bad, []);
  });

  test('the scheme per release: OSV ecosystem strings and the Alpine matcher', async () => {
    for (const r of ['3.10', 'v3.18', '3.22', '3.22.1']) assert.equal(apkForRelease(r), apk2, r);
    for (const r of ['3.23', 'v3.24', 'edge', undefined]) assert.equal(apkForRelease(r), apk, String(r));
    assert.equal(schemeFor('Alpine:v3.22')?.compare('0.06-r10', '0.049-r10'), -1);
    assert.equal(schemeFor('Alpine:v3.23')?.compare('0.06-r10', '0.049-r10'), 1);
    assert.equal(schemeFor('apk')?.name, 'apk');

    // End to end: the same advisory (fixed in 0.049-r10) and the same installed 0.06-r10 are
    // affected on Alpine 3.22 (apk 2.14 calls 0.06 older) and fixed on 3.23 (apk 3 calls it newer).
    const dir = mkdtempSync(path.join(tmpdir(), 'berth-apk-release-'));
    const db = await openDatabase({ kind: 'sqlite', file: path.join(dir, 'berth.db') });
    try {
      const store = new AdvisoryStore(db.db, 'sqlite', { tmpDir: dir });
      const advisory = (versionId: string): Advisory => ({
        updater: 'test',
        id: `CVE-2099-${versionId.replace('.', '')}`,
        aliases: [],
        ecosystem: 'apk',
        distribution: { id: 'alpine', versionId },
        package: 'perl-x',
        packageKind: 'source',
        ranges: [[{ introduced: '0' }, { fixed: '0.049-r10' }]],
        fixedIn: '0.049-r10',
        severity: 'High',
        links: [],
        description: 'x',
      });
      async function* records() {
        yield advisory('3.22');
        yield advisory('3.23');
      }
      await store.replaceUpdater('test', 'fp1', records());
      const pkg: Package = {
        name: 'perl-x',
        version: '0.06-r10',
        kind: 'binary',
        ecosystem: 'apk',
        path: 'lib/apk/db/installed',
        layerIndex: 0,
      };
      const on322 = await match(store, [pkg], { id: 'alpine', version_id: '3.22.2' });
      const on323 = await match(store, [pkg], { id: 'alpine', version_id: '3.23.0' });
      assert.deepEqual(
        on322.packages[0].vulnerabilities.map((v) => [v.id, v.fixedIn]),
        [['CVE-2099-322', '0.049-r10']],
      );
      assert.deepEqual(on323.packages[0].vulnerabilities, []);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
