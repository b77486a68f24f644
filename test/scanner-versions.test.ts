// Version comparison for the scanner, checked against real oracles where the machine has them
// (dpkg, Maven's ComparableVersion via java, Python's packaging, npm's semver package) and against
// the upstream test vectors (apk-tools, rpm, claircore, PEP 440 / packaging, x/mod/semver).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import semverLib from 'semver';
import {
  SCHEMES,
  affected,
  check,
  compareVersions,
  getScheme,
  satisfies,
  schemeFor,
  type Cmp,
  type OsvEvent,
} from '../src/scanner/versions/index.ts';
import { compareDpkg, parseDpkg, dpkg } from '../src/scanner/versions/dpkg.ts';
import { apk, apkVersionCompare } from '../src/scanner/versions/apk.ts';
import { compareRpmEVR, compareRpmNEVRA, parseRpmNEVRA, rpm, rpmvercmp } from '../src/scanner/versions/rpm.ts';
import { canonicalMaven, compareMaven, maven } from '../src/scanner/versions/maven.ts';
import { comparePep440, normalizePep440, pep440 } from '../src/scanner/versions/pep440.ts';
import { SHARED_FIXTURES, sharedSkip } from './helpers/shared.ts';
import { prng } from './helpers/prng.ts';
import { canonicalGo, compareGo, compareNpm, compareSemver, go, npm, parsePseudoVersion, semver } from '../src/scanner/versions/semver.ts';

const FIXTURES = SHARED_FIXTURES;
const CLAIRCORE = path.join(FIXTURES, 'claircore');

const want = (op: string): Cmp => (op === '<' ? -1 : op === '>' ? 1 : 0);
const opOf = (c: number) => (c < 0 ? '<' : c > 0 ? '>' : '==');

/** Lines of "a op b" with '#' comments and blank lines skipped. */
function comparisons(file: string, stripTrailingComment = false): Array<{ a: string; op: string; b: string; line: number }> {
  const out: Array<{ a: string; op: string; b: string; line: number }> = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      let l = raw;
      if (stripTrailingComment) l = l.replace(/#.*/, '');
      l = l.trim();
      if (!l || l.startsWith('#')) return;
      const f = l.split(/\s+/);
      assert.equal(f.length, 3, `${path.basename(file)}:${i + 1}: malformed line ${JSON.stringify(raw)}`);
      out.push({ a: f[0], op: f[1], b: f[2], line: i + 1 });
    });
  return out;
}

const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

// ---------------------------------------------------------------------------------------------
// dpkg
// ---------------------------------------------------------------------------------------------

function dpkgCorpus(): Array<[string, string]> {
  const r = prng(0xdeb);
  const epochs = ['', '', '', '0:', '1:', '2:', '10:', '00:'];
  const nums = ['0', '1', '2', '9', '10', '01', '007', '123', '4294967296', '18446744073709551617', '99999999999999999999999'];
  const words = ['a', 'b', 'z', 'A', 'Z', 'rc', 'beta', 'dfsg', 'git', 'really', 'ubuntu'];
  const seps = ['.', '.', '.', '+', '~'];
  const revs = ['', '', '-1', '-0', '-1ubuntu1', '-1~bpo10+1', '-1+deb10u1', '-0.1', '-2~', '-1.1', '-10', '-1a', '-0ubuntu0.20.04.1'];
  const upstream = () => {
    let s = r.pick(nums);
    const n = r.int(5);
    for (let i = 0; i < n; i++) {
      const k = r.int(4);
      if (k === 0) s += r.pick(seps) + r.pick(nums);
      else if (k === 1) s += r.pick(words);
      else if (k === 2) s += r.pick(seps) + r.pick(words);
      else s += r.pick(nums);
    }
    return s;
  };
  const gen = () => {
    const e = r.pick(epochs);
    const rev = r.pick(revs);
    let u = upstream();
    if (rev && r.int(6) === 0) u += '-' + r.pick(nums); // hyphen inside the upstream part
    if (e && r.int(8) === 0) u += ':' + r.pick(nums); // colon inside the version part
    return e + u + rev;
  };
  const mutate = (v: string): string => {
    switch (r.int(12)) {
      case 0:
        return v + '~' + r.pick(['', 'rc1', '~', 'a']);
      case 1:
        return v + '+' + r.pick(['', '1', 'b', 'deb10u1']);
      case 2:
        return v + r.pick(words);
      case 3:
        return v.replace(/[0-9]+/, (d) => String(BigInt(d) + 1n));
      case 4:
        return v.replace(/[0-9]+$/, (d) => '0' + d);
      case 5:
        return /^[0-9]+:/.test(v) ? v.replace(/^[0-9]+:/, '') : '1:' + v;
      case 6:
        return v.includes('-') ? v.slice(0, v.lastIndexOf('-')) + r.pick(revs.filter(Boolean)) : v + r.pick(revs.filter(Boolean));
      case 7:
        return v.replace('.', r.pick(['+', '~', '']));
      case 8:
        return v.replace(/[a-z]/, (c) => c.toUpperCase());
      case 9:
        return v;
      case 10:
        return v + '.0';
      default:
        return gen();
    }
  };
  const pairs: Array<[string, string]> = [];
  for (let i = 0; i < 600; i++) {
    const a = gen();
    pairs.push([a, mutate(a)]);
  }
  // Hand-picked classics.
  pairs.push(
    ['1.0~rc1', '1.0'],
    ['1.0', '1.0+b1'],
    ['1.0~', '1.0'],
    ['1.0~~', '1.0~'],
    ['1.0~~a', '1.0~'],
    ['1.0', '1.0-0'],
    ['1.0a', '1.0+'],
    ['1.0a', '1.0.'],
    ['1.0-1', '1.0-1.1'],
    ['2:1.0', '1:9.9'],
    ['0:1.0', '1.0'],
    ['1.0', '1.00'],
    ['1.0a', '1.0A'],
    ['1.0Z', '1.0a'],
    ['1.2.3-1ubuntu1', '1.2.3-1ubuntu1.1'],
    ['7.6p2-4', '7.6-0'],
    ['1.0.0', '1.0'],
    ['99999999999999999999', '99999999999999999998'],
    ['1:2:3', '1:2:4'],
    ['1.0-1-2', '1.0-1-10'],
    ['a1', '1'],
    ['1_0', '1.0'],
    ['10.1', '9.10'],
    ['1.0~beta', '1.0~alpha'],
    ['0.0', '0'],
    ['1.1.1l-1', '1.1.1k-1'],
    ['3.0.11-1~deb12u2', '3.0.11-1'],
  );
  return pairs;
}

function statusVersions(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(CLAIRCORE).filter((n) => /^dpkg_testdata_.*\.status$/.test(n))) {
    for (const m of readFileSync(path.join(CLAIRCORE, f), 'utf8').matchAll(/^Version: (.+)$/gm)) out.push(m[1].trim());
  }
  return out;
}

/** One bash process runs dpkg --compare-versions for every pair: '<', '=', '>' or 'E' (dpkg refused). */
function dpkgOracle(pairs: Array<[string, string]>): string[] {
  const script = `while IFS=$'\\t' read -r a b; do
  dpkg --compare-versions "$a" lt "$b" 2>/dev/null; r=$?
  if [ $r = 0 ]; then echo '<'
  elif [ $r = 1 ]; then if dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo '='; else echo '>'; fi
  else echo E; fi
done`;
  const res = spawnSync('bash', ['-c', script], {
    input: pairs.map((p) => p.join('\t')).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  assert.equal(res.status, 0, res.stderr);
  const out = res.stdout.trim().split('\n');
  assert.equal(out.length, pairs.length);
  return out;
}

describe('dpkg', () => {
  const haveDpkg = has('dpkg', ['--version']);

  test('agrees with `dpkg --compare-versions` on a generated corpus and the claircore status files', {
    skip: sharedSkip || (!haveDpkg && 'dpkg not installed'),
  }, (t) => {
    const pairs = dpkgCorpus();
    const status = statusVersions();
    assert.ok(status.length >= 4, 'status fixtures have Version: fields');
    const statusPairs: Array<[string, string]> = [];
    const neighbours = (v: string) => [
      v + '~',
      v + '~~',
      v + '+1',
      v + '.0',
      v + 'a',
      v.replace(/[0-9]+$/, (d) => String(Number(d) + 1)),
      `1:${v}`,
      v.replace(/-[^-]*$/, ''),
    ];
    for (const a of status) {
      for (const b of status) statusPairs.push([a, b]);
      for (const n of neighbours(a)) statusPairs.push([a, n], [n, a]);
    }
    const all = [...pairs, ...statusPairs];
    const oracle = dpkgOracle(all);
    const mismatches: string[] = [];
    let refused = 0;
    all.forEach(([a, b], i) => {
      const ours = compareDpkg(a, b);
      if (oracle[i] === 'E') {
        refused++;
        // dpkg refuses the pair: at least one side must be one we call invalid.
        if (dpkg.valid(a) && dpkg.valid(b)) mismatches.push(`${a} ? ${b}: dpkg refused, we call both valid`);
        return;
      }
      const theirs = oracle[i] === '<' ? -1 : oracle[i] === '>' ? 1 : 0;
      if (ours !== theirs) mismatches.push(`${a} ${oracle[i]} ${b} (dpkg) but ours ${opOf(ours)}`);
      if (compareDpkg(b, a) !== -theirs) mismatches.push(`${b} vs ${a}: not antisymmetric`);
    });
    t.diagnostic(
      `dpkg oracle: ${all.length - refused} pairs compared (${pairs.length} generated, ${statusPairs.length} from ${status.length} status-file versions and their neighbours), ${refused} refused by dpkg, ${mismatches.length} mismatches`,
    );
    assert.deepEqual(mismatches, []);
    assert.ok(all.length - refused >= 600);
  });

  test('valid() matches what dpkg accepts without error or warning', { skip: !haveDpkg && 'dpkg not installed' }, () => {
    const samples = [
      '1.0',
      '1:1.0-1',
      '0:1.0',
      '+1:1.0',
      '2147483647:1',
      '2147483648:1',
      ' 1.0',
      '1.0 ',
      '1.0 2',
      ':1.0',
      'a:1.0',
      '1.0:1',
      '1:',
      '1.0-',
      'a1',
      '1_0',
      '1.0-1_1',
      '1ä',
      '1:2:3',
      '1.0-1-2',
      '~1',
      '1.0~~a',
      '1.0+dfsg-1~bpo1',
      '1.0-a:b',
    ];
    const script = `while IFS= read -r v; do err=$(dpkg --compare-versions "$v" eq "$v" 2>&1 >/dev/null); r=$?; case "$err" in *error*) echo E;; *warning*) echo W;; *) echo "$r";; esac; done`;
    const res = spawnSync('bash', ['-c', script], { input: samples.join('\n') + '\n', encoding: 'utf8' });
    const out = res.stdout.trim().split('\n');
    samples.forEach((v, i) => {
      const p = parseDpkg(v);
      const ours = !p.ok ? 'E' : p.warning ? 'W' : '0';
      assert.equal(ours, out[i], `dpkg says ${out[i]} for ${JSON.stringify(v)}, we say ${ours}`);
      assert.equal(dpkg.valid(v), out[i] === '0');
    });
    // --compare-versions special-cases the empty string (lowest of all); parseversion rejects it.
    assert.equal(dpkg.valid(''), false);
  });

  test('rules: epochs, tilde, revisions, letters before symbols', () => {
    const order = ['1.0~~', '1.0~~a', '1.0~', '1.0', '1.0-0.1', '1.0-1', '1.0a', '1.0+', '1.0.1', '1:0.1', '2:0~'];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) assert.equal(compareDpkg(order[i], order[j]), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
    }
    assert.equal(compareDpkg('1.0', '1.0-0'), 0);
    assert.equal(compareDpkg('1.0', '1.00'), 0);
    assert.equal(compareDpkg('', '~'), -1, 'the empty string is below every version, as in dpkg');
    assert.equal(compareDpkg(':bad', '0'), -1, 'a string dpkg refuses sorts below every version dpkg accepts');
    assert.equal(compareDpkg(':bad', ':worse'), -1);
  });
});

// ---------------------------------------------------------------------------------------------
// apk
// ---------------------------------------------------------------------------------------------

describe('apk', () => {
  test('every line of apk-tools test/version.data, both ways round', { skip: sharedSkip }, (t) => {
    const rows = comparisons(path.join(FIXTURES, 'apk_version.data'), true);
    const bad: string[] = [];
    for (const { a, op, b, line } of rows) {
      if (apk.compare(a, b) !== want(op) || apk.compare(b, a) !== -want(op))
        bad.push(`${line}: ${a} ${op} ${b}: ours ${opOf(apk.compare(a, b))}`);
    }
    t.diagnostic(`apk_version.data: ${rows.length - bad.length}/${rows.length} lines pass`);
    assert.deepEqual(bad, []);
    assert.equal(rows.length, 728);
  });

  test('grammar: suffixes, letters, revisions, commit hashes, leading zeros', () => {
    // 1.01 is a string compare ("01" < "1"), so 1.01.0 sorts before 1.1 but after 1.0.x
    const order = [
      '1.0_alpha',
      '1.0_alpha1',
      '1.0_alpha2',
      '1.0_beta',
      '1.0_pre1',
      '1.0_rc1',
      '1.0_rc1-r1',
      '1.0',
      '1.0-r1',
      '1.0-r2',
      '1.0-r10',
      '1.0_cvs',
      '1.0_svn',
      '1.0_git20200101',
      '1.0_hg',
      '1.0_p1',
      '1.0_p2',
      '1.0a',
      '1.0b',
      '1.0.1',
      '1.01.0',
      '1.1_alpha',
      '1.1',
    ];
    // Sorted from the order the grammar lists them in (1.1 before 1.01.0 and 1.1_alpha) and from the reverse.
    assert.deepEqual([...order.slice(0, -3), '1.1', '1.01.0', '1.1_alpha'].sort(apk.compare), order);
    assert.deepEqual([...order].reverse().sort(apk.compare), order);
    assert.equal(apk.compare('1.2.3~abc123-r0', '1.2.3-r0'), 1, 'a commit hash comes earlier in the grammar than -r, so it is newer');
    assert.equal(apk.compare('1.2.3~abc123', '1.2.3'), 1);
    assert.equal(apk.compare('1.2.3~abc-r0', '1.2.3~abd-r0'), -1);
    assert.equal(apk.compare('01.0', '1.0'), 0, 'the first number compares numerically');
    for (const v of ['1', '1.2.3-r0', '2.3.0b-r1', '1.0_alpha_pre2', '1.2.3~deadbeef-r4', '0.1_git20230101-r0']) assert.ok(apk.valid(v), v);
    for (const v of ['', 'a1', '1.0bc', '23_foo', '1.0-r', '1.0-1', '1..0', '1.0.', 'v1.0', '1.0_rc-r1a', '1.0~XYZ', '1.0 '])
      assert.ok(!apk.valid(v), v);
  });

  test('every secfixes version in the Alpine fixture is a valid apk version', { skip: sharedSkip }, () => {
    const doc = JSON.parse(readFileSync(path.join(CLAIRCORE, 'alpine_testdata_fetch_v3.10_community.json'), 'utf8'));
    const versions = doc.packages.flatMap((p: { pkg: { secfixes: Record<string, string[]> } }) => Object.keys(p.pkg.secfixes));
    assert.ok(versions.length > 5);
    for (const v of versions) assert.ok(apk.valid(v), v);
  });

  test('invalid strings: apk answers where it can, ties between different strings are broken by bytes', () => {
    assert.equal(apkVersionCompare('abc', 'xyz'), 0, 'apk itself calls these equal');
    assert.equal(apk.compare('abc', 'xyz'), -1);
    assert.equal(apk.compare('xyz', 'abc'), 1);
    assert.equal(apk.compare('1.0', '01.0'), 0, 'valid versions apk calls equal stay equal');
  });
});

// ---------------------------------------------------------------------------------------------
// rpm
// ---------------------------------------------------------------------------------------------

describe('rpm', () => {
  test("every line of the rpmvercmp vectors (rpm's tests/rpmvercmp.at, via claircore)", { skip: sharedSkip }, (t) => {
    const rows = comparisons(path.join(CLAIRCORE, 'internal_rpmver_testdata_rpmvercmp'));
    const bad = rows
      .filter(({ a, op, b }) => rpmvercmp(a, b) !== want(op))
      .map(({ a, op, b, line }) => `${line}: ${a} ${op} ${b}: ours ${opOf(rpmvercmp(a, b))}`);
    t.diagnostic(`internal_rpmver_testdata_rpmvercmp: ${rows.length - bad.length}/${rows.length} lines pass`);
    assert.deepEqual(bad, []);
    assert.equal(rows.length, 113);
  });

  test('every line of the NEVRA comparison vectors', { skip: sharedSkip }, (t) => {
    const rows = comparisons(path.join(CLAIRCORE, 'internal_rpmver_testdata_compare'));
    const bad = rows.filter(({ a, op, b }) => compareRpmNEVRA(a, b) !== want(op)).map(({ a, op, b, line }) => `${line}: ${a} ${op} ${b}`);
    t.diagnostic(`internal_rpmver_testdata_compare: ${rows.length - bad.length}/${rows.length} lines pass`);
    assert.deepEqual(bad, []);
    assert.equal(rows.length, 12);
    assert.deepEqual(parseRpmNEVRA('fonts-filesystem-1:2.0.5-12.fc39.noarch'), {
      name: 'fonts-filesystem',
      epoch: '1',
      version: '2.0.5',
      release: '12.fc39',
      arch: 'noarch',
    });
  });

  test('EVR comparison: epoch first, then version, then release; a missing release sorts first', () => {
    assert.equal(rpm.compare('1:1.0-1.el9', '0:9.9-9.el9'), 1);
    assert.equal(rpm.compare('0:1.0-1.el9', '1.0-1.el9'), 0);
    assert.equal(rpm.compare(':1.0-1', '1.0-1'), 0, 'an empty epoch is 0, as in rpm');
    assert.equal(rpm.compare('1.0-1.el9', '1.0-1.el9_1'), -1);
    assert.equal(rpm.compare('3.0.7-24.el9', '3.0.7-25.el9'), -1);
    assert.equal(rpm.compare('1.0~rc1-1', '1.0-1'), -1);
    assert.equal(rpm.compare('1.0^git1-1', '1.0-1'), 1);
    assert.equal(rpm.compare('1.0', '1.0-1'), -1);
    assert.equal(rpm.compare('1.0', '1.0-'), -1, 'rpm 4.18: a missing release sorts below an empty one');
    assert.equal(compareRpmEVR('1.0', '1.0-1', { ignoreMissingRelease: true }), 0, "rpm's dependency semantics on request");
    assert.ok(rpm.valid('1:2.0.5-12.fc39') && rpm.valid('1.0~rc1^git2') && rpm.valid('2.0.5'));
    assert.ok(!rpm.valid('') && !rpm.valid('1.0-') && !rpm.valid('a:1.0') && !rpm.valid('1.0-1-2') && !rpm.valid('1.0 1'));
  });
});

// ---------------------------------------------------------------------------------------------
// Maven
// ---------------------------------------------------------------------------------------------

const MAVEN_JAR = ['/usr/share/java/maven3-artifact.jar', '/usr/share/maven/lib/maven-artifact-3.x.jar'].find((p) => existsSync(p));
const haveJava = MAVEN_JAR !== undefined && has('java', ['-version']);

/** Maven's own ComparableVersion.main compares each adjacent pair of its arguments. */
function mavenOracle(versions: string[]): Array<{ a: string; op: string; b: string }> {
  const res = spawnSync('java', ['-cp', MAVEN_JAR!, 'org.apache.maven.artifact.versioning.ComparableVersion', ...versions], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  assert.equal(res.status, 0, res.stderr);
  return res.stdout
    .split('\n')
    .filter((l) => l.startsWith('   '))
    .map((l) => {
      const m = /^ {3}(\S+) (<|>|==) (\S+)$/.exec(l);
      assert.ok(m, l);
      return { a: m[1], op: m[2], b: m[3] };
    });
}

// The one claircore vector that Maven itself (3.8.7 as packaged by Debian, and every Maven since
// MNG-7644 in 3.9.0) answers differently: ".X" is treated like "-X", so 2.0.a == 2-a == 2.0.0.a.
// The line comes from Maven's pre-MNG-7644 test suite via go-mvn-version.
const MAVEN_FIXTURE_DISAGREES = new Map([['2.0.a < 2.0.0.a', 0 as Cmp]]);

describe('maven', () => {
  test("every line of claircore's compare.list (one line follows pre-3.9 Maven; Maven decides)", { skip: sharedSkip }, (t) => {
    const rows = comparisons(path.join(CLAIRCORE, 'internal_maven_testdata_compare.list'));
    const bad: string[] = [];
    let agree = 0;
    for (const { a, op, b, line } of rows) {
      const key = `${a} ${op} ${b}`;
      const expected = MAVEN_FIXTURE_DISAGREES.get(key) ?? want(op);
      if (compareMaven(a, b) !== expected || compareMaven(b, a) !== -expected)
        bad.push(`${line}: ${key}: ours ${opOf(compareMaven(a, b))}`);
      else if (!MAVEN_FIXTURE_DISAGREES.has(key)) agree++;
    }
    t.diagnostic(
      `internal_maven_testdata_compare.list: ${agree}/${rows.length} lines as written; ${MAVEN_FIXTURE_DISAGREES.size} line(s) answered as Maven does instead: ${[...MAVEN_FIXTURE_DISAGREES.keys()].join('; ')}`,
    );
    assert.deepEqual(bad, []);
    assert.equal(rows.length, 84);
  });

  test("the fixture lines and a generated corpus agree with Maven's own ComparableVersion (java)", {
    skip: sharedSkip || (!haveJava && 'java or maven-artifact jar not installed'),
  }, (t) => {
    const fixtureRows = comparisons(path.join(CLAIRCORE, 'internal_maven_testdata_compare.list'));
    const r = prng(0x3a7e);
    const atoms = [
      '0',
      '1',
      '2',
      '10',
      '00',
      '01',
      '123456789012',
      '99999999999999999999',
      'a',
      'b',
      'm',
      'alpha',
      'beta',
      'milestone',
      'rc',
      'cr',
      'snapshot',
      'SNAPSHOT',
      'ga',
      'final',
      'release',
      'sp',
      'xyz',
      'abc',
      'RELEASE',
      'Final',
      'jre',
      'android',
      'redhat',
      '',
    ];
    const seps = ['.', '-', '', '.', '-'];
    const gen = () => {
      let s = r.pick(['1', '2', '1.0', '0', '3.2.1', 'a', '1-0']);
      for (let i = r.int(5); i > 0; i--) s += r.pick(seps) + r.pick(atoms);
      return s;
    };
    const args: string[] = [];
    for (const { a, b } of fixtureRows) args.push(a, b);
    for (let i = 0; i < 1500; i++) {
      const a = gen();
      args.push(a, r.int(2) ? gen() : a + r.pick(seps) + r.pick(atoms));
    }
    const oracle = mavenOracle(args);
    const bad = oracle
      .filter(({ a, op, b }) => compareMaven(a, b) !== want(op))
      .map(({ a, op, b }) => `${a} ${op} ${b} (Maven) but ours ${opOf(compareMaven(a, b))}`);
    t.diagnostic(
      `Maven ComparableVersion oracle (${path.basename(MAVEN_JAR!)}): ${oracle.length - bad.length}/${oracle.length} adjacent pairs agree`,
    );
    assert.deepEqual(bad, []);
    assert.equal(oracle.length, args.length - 1);
  });

  test("Maven's own order is not transitive on odd strings; we give Maven's answer for each pair", (t) => {
    const cycle = ['2.1.10beta1CR', '2.1.10.0', '2.1.10.redhat.2'];
    assert.equal(compareMaven(cycle[0], cycle[1]), -1);
    assert.equal(compareMaven(cycle[1], cycle[2]), -1);
    assert.equal(compareMaven(cycle[2], cycle[0]), -1);
    if (!haveJava) return t.diagnostic('java not installed: cycle not confirmed against Maven');
    assert.deepEqual(
      mavenOracle([...cycle, cycle[0]]).map(({ op }) => op),
      ['<', '<', '<'],
    );
  });

  test('qualifier order, aliases and padding', () => {
    const order = [
      '1-alpha',
      '1-alpha-1',
      '1-alpha2',
      '1-beta',
      '1-m1',
      '1-milestone-2',
      '1-rc',
      '1-cr-1',
      '1-rc2',
      '1-SNAPSHOT',
      '1',
      '1-sp',
      '1-sp1',
      '1-abc',
      '1-xyz',
      '1-1',
      '1.0.1',
      '1.1',
    ];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) assert.equal(compareMaven(order[i], order[j]), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
    }
    for (const [a, b] of [
      ['1', '1.0.0'],
      ['1', '1-ga'],
      ['1.0-final', '1.0.RELEASE'],
      ['1cr', '1-rc'],
      ['1a1', '1-alpha-1'],
      ['1.0.0.X', '1-x'],
    ]) {
      assert.equal(compareMaven(a, b), 0, `${a} == ${b}`);
    }
    assert.equal(compareMaven('1a', '1-alpha'), 1, '"a" means alpha only when a digit follows');
    assert.equal(canonicalMaven('1.0.0-RC1'), '1-rc-1');
    assert.ok(maven.valid('1.2.3.Final') && !maven.valid('') && !maven.valid('1.0 beta'));
  });
});

// ---------------------------------------------------------------------------------------------
// PEP 440
// ---------------------------------------------------------------------------------------------

// pypa/packaging tests/test_version.py VERSIONS: "This list must be in the correct sorting order".
const PEP440_SORTED = [
  '1.0.dev0',
  '1.0.dev456',
  '1.0.dev456+local',
  '1.0a0',
  '1.0a0.post0.dev0',
  '1.0a0.post0',
  '1.0a1.dev1',
  '1.0a1.dev1+local',
  '1.0a1',
  '1.0a1+local',
  '1.0b0',
  '1.0b1.dev456',
  '1.0b2',
  '1.0b2.post345.dev456',
  '1.0b2.post345',
  '1.0b2-346',
  '1.0rc0',
  '1.0rc1.dev1',
  '1.0c1',
  '1.0rc2',
  '1.0',
  '1.0.post0.dev0',
  '1.0.post0',
  '1.0.post456.dev34',
  '1.0.post456',
  '1.0.post456+local',
  '1.0.1.dev1',
  '1.0.1a1',
  '1.0.1',
  '1.0.1+local',
  '1.0.1.post1',
  '1.1.dev1',
  '1.2+a',
  '1.2+abc',
  '1.2+abcdef',
  '1.2+def',
  '1.2+0',
  '1.2+1',
  '1.2+1.abc',
  '1.2+1.1',
  '1.2+1.1.0',
  '1.2+2',
  '1.2+123',
  '1.2+123456',
  '1.2.r32+123456',
  '1.2.rev33+123456',
];
const PEP440_ALL = [...PEP440_SORTED, ...PEP440_SORTED.map((v) => `1!${v}`)];

// packaging's test_normalized_versions pairs (input, normalised).
const PEP440_NORMALIZED: Array<[string, string]> = [
  ['1.0dev', '1.0.dev0'],
  ['1.0.dev', '1.0.dev0'],
  ['1.0dev1', '1.0.dev1'],
  ['1.0-dev', '1.0.dev0'],
  ['1.0-dev1', '1.0.dev1'],
  ['1.0DEV', '1.0.dev0'],
  ['1.0.DEV', '1.0.dev0'],
  ['1.0DEV1', '1.0.dev1'],
  ['1.0.DEV1', '1.0.dev1'],
  ['1.0-DEV', '1.0.dev0'],
  ['1.0-DEV1', '1.0.dev1'],
  ['1.0a', '1.0a0'],
  ['1.0.a', '1.0a0'],
  ['1.0.a1', '1.0a1'],
  ['1.0-a', '1.0a0'],
  ['1.0-a1', '1.0a1'],
  ['1.0alpha', '1.0a0'],
  ['1.0.alpha', '1.0a0'],
  ['1.0.alpha1', '1.0a1'],
  ['1.0-alpha', '1.0a0'],
  ['1.0-alpha1', '1.0a1'],
  ['1.0A', '1.0a0'],
  ['1.0.A', '1.0a0'],
  ['1.0.A1', '1.0a1'],
  ['1.0-A', '1.0a0'],
  ['1.0-A1', '1.0a1'],
  ['1.0ALPHA', '1.0a0'],
  ['1.0.ALPHA', '1.0a0'],
  ['1.0.ALPHA1', '1.0a1'],
  ['1.0-ALPHA', '1.0a0'],
  ['1.0-ALPHA1', '1.0a1'],
  ['1.0b', '1.0b0'],
  ['1.0.b', '1.0b0'],
  ['1.0.b1', '1.0b1'],
  ['1.0-b', '1.0b0'],
  ['1.0-b1', '1.0b1'],
  ['1.0beta', '1.0b0'],
  ['1.0.beta', '1.0b0'],
  ['1.0.beta1', '1.0b1'],
  ['1.0-beta', '1.0b0'],
  ['1.0-beta1', '1.0b1'],
  ['1.0B', '1.0b0'],
  ['1.0.B', '1.0b0'],
  ['1.0.B1', '1.0b1'],
  ['1.0-B', '1.0b0'],
  ['1.0-B1', '1.0b1'],
  ['1.0BETA', '1.0b0'],
  ['1.0.BETA', '1.0b0'],
  ['1.0.BETA1', '1.0b1'],
  ['1.0-BETA', '1.0b0'],
  ['1.0-BETA1', '1.0b1'],
  ['1.0c', '1.0rc0'],
  ['1.0.c', '1.0rc0'],
  ['1.0.c1', '1.0rc1'],
  ['1.0-c', '1.0rc0'],
  ['1.0-c1', '1.0rc1'],
  ['1.0rc', '1.0rc0'],
  ['1.0.rc', '1.0rc0'],
  ['1.0.rc1', '1.0rc1'],
  ['1.0-rc', '1.0rc0'],
  ['1.0-rc1', '1.0rc1'],
  ['1.0C', '1.0rc0'],
  ['1.0.C', '1.0rc0'],
  ['1.0.C1', '1.0rc1'],
  ['1.0-C', '1.0rc0'],
  ['1.0-C1', '1.0rc1'],
  ['1.0RC', '1.0rc0'],
  ['1.0.RC', '1.0rc0'],
  ['1.0.RC1', '1.0rc1'],
  ['1.0-RC', '1.0rc0'],
  ['1.0-RC1', '1.0rc1'],
  ['1.0post', '1.0.post0'],
  ['1.0.post', '1.0.post0'],
  ['1.0post1', '1.0.post1'],
  ['1.0-post', '1.0.post0'],
  ['1.0-post1', '1.0.post1'],
  ['1.0POST', '1.0.post0'],
  ['1.0.POST', '1.0.post0'],
  ['1.0POST1', '1.0.post1'],
  ['1.0r', '1.0.post0'],
  ['1.0rev', '1.0.post0'],
  ['1.0.POST1', '1.0.post1'],
  ['1.0.r1', '1.0.post1'],
  ['1.0.rev1', '1.0.post1'],
  ['1.0-POST', '1.0.post0'],
  ['1.0-POST1', '1.0.post1'],
  ['1.0-5', '1.0.post5'],
  ['1.0-r5', '1.0.post5'],
  ['1.0-rev5', '1.0.post5'],
  ['1.0+AbC', '1.0+abc'],
  ['1.01', '1.1'],
  ['1.0a05', '1.0a5'],
  ['1.0b07', '1.0b7'],
  ['1.0c056', '1.0rc56'],
  ['1.0rc09', '1.0rc9'],
  ['1.0.post000', '1.0.post0'],
  ['1.1.dev09000', '1.1.dev9000'],
  ['00!1.2', '1.2'],
  ['0100!0.0', '100!0.0'],
  ['v1.0', '1.0'],
  ['   v1.0\t\n', '1.0'],
  ['\u202f1.0\t\u2029\n ', '1.0'],
];

// packaging's test_invalid_versions.
const PEP440_INVALID = [
  'french toast',
  '1.0+a+',
  '1.0++',
  '1.0+_foobar',
  '1.0+foo&asd',
  '1.0+1+1',
  '1. 0',
  '1 .0',
  '1. 0a1',
  '1 .0a1',
  '1.0 a1',
  '1.0a 1',
  '٠١٢.٣٤٥.٦٧٨٩',
  '.',
  '..',
  '1..0',
  '1.0.',
  '.1.0',
  '1..2.3',
  '1.0+\u0130',
  '',
  '\ufeff1.0',
];

describe('pep440', () => {
  test('the canonical sorted list from pypa/packaging: every pair in both directions', (t) => {
    let n = 0;
    for (let i = 0; i < PEP440_ALL.length; i++) {
      for (let j = 0; j < PEP440_ALL.length; j++) {
        assert.equal(comparePep440(PEP440_ALL[i], PEP440_ALL[j]), Math.sign(i - j), `${PEP440_ALL[i]} vs ${PEP440_ALL[j]}`);
        n++;
      }
    }
    t.diagnostic(`PEP 440 ordering: ${PEP440_ALL.length} versions, ${n} ordered pairs`);
  });

  test("normalisation: packaging's vectors, 1.0.0 == 1, case, separators, v prefix, local versions", () => {
    for (const [input, norm] of PEP440_NORMALIZED) {
      assert.equal(normalizePep440(input), norm, JSON.stringify(input));
      assert.equal(comparePep440(input, norm), 0, `${JSON.stringify(input)} == ${norm}`);
    }
    for (const v of PEP440_INVALID) assert.equal(pep440.valid(v), false, JSON.stringify(v));
    const equal: Array<[string, string]> = [
      ['1.0.0', '1'],
      ['1.0.0.0', '1.0'],
      ['1.0RC1', '1.0rc1'],
      ['1.0_rc_1', '1.0rc1'],
      ['1.0-rc.1', '1.0rc1'],
      ['V1.0', '1.0'],
      ['1.0+Ubuntu-1', '1.0+ubuntu.1'],
      ['1.0+ubuntu_1', '1.0+ubuntu.1'],
      ['0!1.0', '1.0'],
      ['1.0.post0', '1.0-0'],
      ['1.0c1', '1.0rc1'],
    ];
    for (const [a, b] of equal) assert.equal(comparePep440(a, b), 0, `${a} == ${b}`);
    assert.equal(comparePep440('1.0+local', '1.0'), 1, 'a local version sorts after its public version');
    assert.equal(comparePep440('1.0+1', '1.0+a'), 1, 'a numeric local segment beats a string');
    assert.equal(comparePep440('2.0', '1!1.0'), -1, 'epochs first');
    assert.equal(comparePep440('not a version', '0.0.dev0'), -1, 'invalid strings sort before every valid version');
  });

  test("agrees with Python's packaging.version on a generated corpus", {
    skip: !has('python3', ['-c', 'import packaging.version']) && 'python3 with packaging not installed',
  }, (t) => {
    const r = prng(0x440);
    const parts = ['0', '1', '2', '10', '01', '000', '99999999999999999999'];
    const pre = ['', '', 'a', 'b', 'rc', 'c', 'alpha', 'beta', 'pre', 'preview', '.a', '-b', '_rc', 'RC', 'Alpha'];
    const post = ['', '', '.post', '.post1', '-1', '-r2', 'rev3', '_post_4', '.POST'];
    const dev = ['', '', '.dev', '.dev1', '-dev2', 'dev', '_dev_3'];
    const local = ['', '', '+abc', '+1', '+abc.1', '+1.abc', '+Ubuntu-1', '+1_2', '+a.b.c', '+0'];
    const junk = ['', '', '', '', '', '', '', '', ' ', '+', '..', 'x', '!', '-', '+a+'];
    const gen = () => {
      let s = r.int(8) === 0 ? `${r.pick(parts)}!` : '';
      s += r.int(6) === 0 ? 'v' : '';
      s += Array.from({ length: 1 + r.int(4) }, () => r.pick(parts)).join('.');
      s += r.pick(pre) + (r.int(2) ? r.pick(parts) : '') + r.pick(post) + r.pick(dev) + r.pick(local) + r.pick(junk);
      return s;
    };
    const versions = Array.from({ length: 500 }, gen);
    const pairs = Array.from({ length: 1500 }, () => [r.int(versions.length), r.int(versions.length)]);
    const py = `
import json, sys
from packaging.version import Version, InvalidVersion
d = json.load(sys.stdin)
def p(s):
    try: return Version(s)
    except InvalidVersion: return None
vs = [p(s) for s in d["versions"]]
norm = [str(v) if v is not None else None for v in vs]
cmp = [(None if vs[i] is None or vs[j] is None else (vs[i] > vs[j]) - (vs[i] < vs[j])) for i, j in d["pairs"]]
json.dump({"norm": norm, "cmp": cmp}, sys.stdout)`;
    const res = spawnSync('python3', ['-c', py], { input: JSON.stringify({ versions, pairs }), encoding: 'utf8', maxBuffer: 1 << 24 });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout) as { norm: (string | null)[]; cmp: (number | null)[] };
    const bad: string[] = [];
    versions.forEach((v, i) => {
      if ((normalizePep440(v) ?? null) !== out.norm[i])
        bad.push(`${JSON.stringify(v)}: packaging ${out.norm[i]}, ours ${normalizePep440(v)}`);
    });
    let compared = 0;
    pairs.forEach(([i, j], k) => {
      if (out.cmp[k] === null) return;
      compared++;
      if (comparePep440(versions[i], versions[j]) !== out.cmp[k]) bad.push(`${versions[i]} vs ${versions[j]}: packaging ${out.cmp[k]}`);
    });
    const valid = out.norm.filter((x) => x !== null).length;
    t.diagnostic(
      `packaging oracle: ${versions.length} strings (${valid} valid) parsed and normalised alike, ${compared} valid pairs compared, ${bad.length} mismatches`,
    );
    assert.deepEqual(bad, []);
    assert.ok(valid > 150 && compared > 300);
  });
});

// ---------------------------------------------------------------------------------------------
// semver: SemVer 2.0.0, npm, Go
// ---------------------------------------------------------------------------------------------

describe('semver', () => {
  test('SemVer 2.0.0 precedence (semver.org §11) in all three schemes', () => {
    const order = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0',
      '1.0.1',
      '1.1.0',
      '2.0.0',
    ];
    for (const cmp of [compareSemver, compareNpm, compareGo]) {
      for (let i = 0; i < order.length; i++) {
        for (let j = 0; j < order.length; j++) assert.equal(cmp(order[i], order[j]), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
      }
    }
    assert.equal(compareSemver('1.0.0+build.1', '1.0.0+build.2'), 0, 'build metadata is ignored');
    assert.equal(compareSemver('1.0.0-1', '1.0.0-a'), -1, 'numeric identifiers sort below alphanumeric ones');
    assert.equal(compareSemver('1.0.0-2', '1.0.0-10'), -1, 'numeric identifiers compare as numbers');
    assert.equal(compareSemver('1.0.0-B', '1.0.0-a'), -1, 'ASCII order');
    assert.equal(compareSemver('18446744073709551616.0.0', '18446744073709551615.0.0'), 1, 'unbounded numbers');
    assert.ok(
      !semver.valid('1.2') && !semver.valid('01.2.3') && !semver.valid('1.2.3-01') && !semver.valid('1.2.3-') && semver.valid('v1.2.3'),
    );
  });

  test("strict SemVer agrees with npm's semver package on a generated corpus", (t) => {
    const r = prng(0x5e);
    const nums = ['0', '1', '2', '9', '10', '11', '01', '123'];
    const ids = ['alpha', 'beta', 'rc', '0', '1', '2', '11', '01', 'a1', '1a', '-', 'x-y', 'Z', 'z', ''];
    const gen = () => {
      let s = `${r.pick(nums)}.${r.pick(nums)}.${r.pick(nums)}`;
      if (r.int(2)) s += '-' + Array.from({ length: 1 + r.int(3) }, () => r.pick(ids)).join('.');
      if (r.int(4) === 0) s += '+' + Array.from({ length: 1 + r.int(2) }, () => r.pick(ids)).join('.');
      return s;
    };
    const corpus = Array.from({ length: 800 }, gen);
    let validCount = 0;
    for (const v of corpus) {
      assert.equal(semver.valid(v), semverLib.valid(v) !== null, `valid(${v})`);
      if (semver.valid(v)) validCount++;
    }
    const valid = corpus.filter((v) => semver.valid(v));
    let n = 0;
    for (let i = 0; i + 1 < valid.length; i++) {
      for (const j of [i + 1, r.int(valid.length)]) {
        assert.equal(compareSemver(valid[i], valid[j]), semverLib.compare(valid[i], valid[j]), `${valid[i]} vs ${valid[j]}`);
        n++;
      }
    }
    t.diagnostic(`npm semver oracle: ${corpus.length} strings (${validCount} valid) classified alike, ${n} pairs compared alike`);
  });

  test('npm: loose parsing of installed versions, and range prerelease rules', () => {
    assert.equal(compareNpm('v1.2.3', '1.2.3'), 0);
    assert.equal(compareNpm('=1.2.3', '1.2.3'), 0);
    assert.ok(npm.valid('1.2.3') && npm.valid('v1.2.3') && !npm.valid('1.2') && !npm.valid('latest'));
    assert.equal(compareNpm('latest', '0.0.0'), -1, 'unparseable sorts first');
    assert.ok(satisfies('1.2.3', '^1.2', 'npm'));
    assert.ok(satisfies('1.9.0', '~1.9.0 || ^2', 'npm'));
    assert.ok(!satisfies('1.3.0-rc.1', '^1.2', 'npm'), 'npm: a prerelease only matches a comparator on its own tuple');
    assert.ok(satisfies('1.3.0-rc.1', '^1.2', 'npm', { includePrerelease: true }));
    assert.ok(satisfies('1.2.4-beta.1', '>=1.2.4-beta.0 <1.3', 'npm'));
    assert.ok(satisfies('1.2.3', '1.0.0 - 1.2.3', 'npm') && !satisfies('1.2.4', '1.0.0 - 1.2.3', 'npm'));
    assert.ok(satisfies('1.4.7', '1.x', 'npm') && satisfies('1.4.7', '*', 'npm') && satisfies('1.4.7', '1.4.X', 'npm'));
    assert.ok(!satisfies('1.2.3', 'not a range', 'npm'));
    // Helm / Masterminds constraints: commas mean "and", != excludes.
    assert.ok(satisfies('1.5.0', '>= 1.2, < 2.0', 'semver'));
    assert.ok(!satisfies('2.0.0', '>= 1.2, < 2.0', 'semver'));
    assert.ok(!satisfies('1.5.0', '>=1.0.0, !=1.5.0', 'semver') && satisfies('1.5.1', '>=1.0.0, !=1.5.0', 'semver'));
  });

  // golang.org/x/mod/semver semver_test.go: the list is in ascending order; equal "out" means equal.
  const GO_TESTS: Array<[string, string]> = [
    ['bad', ''],
    ['v1-alpha.beta.gamma', ''],
    ['v1-pre', ''],
    ['v1+meta', ''],
    ['v1-pre+meta', ''],
    ['v1.2-pre', ''],
    ['v1.2+meta', ''],
    ['v1.2-pre+meta', ''],
    ['v1.0.0-alpha', 'v1.0.0-alpha'],
    ['v1.0.0-alpha.1', 'v1.0.0-alpha.1'],
    ['v1.0.0-alpha.beta', 'v1.0.0-alpha.beta'],
    ['v1.0.0-beta', 'v1.0.0-beta'],
    ['v1.0.0-beta.2', 'v1.0.0-beta.2'],
    ['v1.0.0-beta.11', 'v1.0.0-beta.11'],
    ['v1.0.0-rc.1', 'v1.0.0-rc.1'],
    ['v1', 'v1.0.0'],
    ['v1.0', 'v1.0.0'],
    ['v1.0.0', 'v1.0.0'],
    ['v1.2', 'v1.2.0'],
    ['v1.2.0', 'v1.2.0'],
    ['v1.2.3-456', 'v1.2.3-456'],
    ['v1.2.3-456.789', 'v1.2.3-456.789'],
    ['v1.2.3-456-789', 'v1.2.3-456-789'],
    ['v1.2.3-456a', 'v1.2.3-456a'],
    ['v1.2.3-pre', 'v1.2.3-pre'],
    ['v1.2.3-pre+meta', 'v1.2.3-pre'],
    ['v1.2.3-pre.1', 'v1.2.3-pre.1'],
    ['v1.2.3-zzz', 'v1.2.3-zzz'],
    ['v1.2.3', 'v1.2.3'],
    ['v1.2.3+meta', 'v1.2.3'],
    ['v1.2.3+meta-pre', 'v1.2.3'],
    ['v1.2.3+meta-pre.sha.256a', 'v1.2.3'],
  ];

  test('Go: x/mod/semver vectors (validity, canonical form, order)', () => {
    for (const [v, canon] of GO_TESTS) {
      assert.equal(go.valid(v), canon !== '', `valid(${v})`);
      if (canon) assert.equal(canonicalGo(v), canon, v);
    }
    for (let i = 0; i < GO_TESTS.length; i++) {
      for (let j = 0; j < GO_TESTS.length; j++) {
        const [vi, ci] = GO_TESTS[i];
        const [vj, cj] = GO_TESTS[j];
        if (!ci || !cj) continue; // x/mod calls all invalid strings equal; ours orders them (see semver.ts)
        const expected = ci === cj ? 0 : Math.sign(i - j);
        assert.equal(compareGo(vi, vj), expected, `${vi} vs ${vj}`);
      }
    }
    assert.equal(compareGo('v1.19', 'v1.2'), 1);
    assert.equal(compareGo('bad', 'v0.0.0'), -1);
    assert.equal(compareGo('1.2.3', 'v1.2.3'), 0, 'OSV Go versions have no v');
  });

  test('Go: pseudo-versions and +incompatible sort where the go command puts them', () => {
    const order = [
      'v0.0.0-20190101000000-aaaaaaaaaaaa',
      'v0.0.0-20191109021931-daa7c04131f5',
      'v0.1.0',
      'v1.2.3-pre',
      'v1.2.3-pre.0.20200101000000-bbbbbbbbbbbb', // based on v1.2.3-pre
      'v1.2.3-pre.1',
      'v1.2.3',
      'v1.2.4-0.20200101000000-cccccccccccc', // based on v1.2.3, before any v1.2.4 pre-release
      'v1.2.4-alpha',
      'v1.2.4',
      'v2.0.0+incompatible',
      'v2.0.1-0.20210101000000-dddddddddddd+incompatible',
      'v2.0.1+incompatible',
    ];
    for (let i = 0; i < order.length; i++) {
      for (let j = 0; j < order.length; j++) assert.equal(compareGo(order[i], order[j]), Math.sign(i - j), `${order[i]} vs ${order[j]}`);
    }
    assert.equal(compareGo('v2.0.0+incompatible', 'v2.0.0'), 0, '+incompatible is build metadata');
    assert.equal(canonicalGo('v2.0.0+incompatible'), 'v2.0.0+incompatible');
    assert.deepEqual(parsePseudoVersion('v0.0.0-20191109021931-daa7c04131f5'), { timestamp: '20191109021931', revision: 'daa7c04131f5' });
    assert.deepEqual(parsePseudoVersion('v1.2.4-0.20200101000000-cccccccccccc'), { timestamp: '20200101000000', revision: 'cccccccccccc' });
    assert.deepEqual(parsePseudoVersion('1.2.3-pre.0.20200101000000-bbbbbbbbbbbb'), {
      timestamp: '20200101000000',
      revision: 'bbbbbbbbbbbb',
    });
    assert.equal(parsePseudoVersion('v1.2.3-pre'), undefined);
    assert.equal(parsePseudoVersion('v1.2.3'), undefined);
    assert.ok(satisfies('v1.2.4-0.20200101000000-cccccccccccc', '>=1.2.3 <1.2.4', 'go', { includePrerelease: true }));
  });
});

// ---------------------------------------------------------------------------------------------
// affected(): OSV ranges and range strings
// ---------------------------------------------------------------------------------------------

describe('affected', () => {
  test('OSV introduced/fixed/last_affected, including introduced "0"', () => {
    const r = { introduced: '1.0.0', fixed: '1.2.3' };
    assert.equal(affected('0.9.9', r, 'npm'), false);
    assert.equal(affected('1.0.0', r, 'npm'), true, 'introduced is inclusive');
    assert.equal(affected('1.2.3-beta.1', r, 'npm'), true, 'a pre-release of the fix is still vulnerable');
    assert.equal(affected('1.2.3', r, 'npm'), false, 'fixed is exclusive');
    assert.equal(affected('1.2.2', { introduced: '0', lastAffected: '1.2.2' }, 'npm'), true, 'last_affected is inclusive');
    assert.equal(affected('1.2.3-rc.1', { introduced: '0', lastAffected: '1.2.2' }, 'npm'), false);
    assert.equal(affected('0.0.0', { fixed: '1.0.0' }, 'npm'), true, 'introduced defaults to "0"');
    // "0" is "the very beginning" even where a real version can sort below 0.
    assert.equal(compareDpkg('0~1', '0'), -1);
    assert.equal(affected('0~1', { introduced: '0', fixed: '1' }, 'Debian:12'), true);
    assert.equal(affected('0.0.dev0', { introduced: '0', fixed: '1.0' }, 'PyPI'), true);
    assert.equal(affected('0.1_alpha', { introduced: '0', fixed: '0.1' }, 'Alpine:v3.18'), true);
    // Ecosystem rules decide: the Debian fixed version 1:2.0-1 is after 9.9.
    assert.equal(affected('9.9-1', { introduced: '0', fixed: '1:2.0-1' }, 'Debian'), true);
    assert.equal(affected('1:2.0-1', { introduced: '0', fixed: '1:2.0-1' }, 'Ubuntu:22.04:LTS'), false);
    assert.equal(affected('3.0.7-24.el9', { fixed: '0:3.0.7-25.el9' }, 'Red Hat:enterprise_linux:9'), true);
    assert.equal(affected('1.0-SNAPSHOT', { introduced: '0', fixed: '1.0' }, 'Maven'), true);
    assert.equal(affected('1.0.RELEASE', { introduced: '0', fixed: '1.0' }, 'Maven'), false);
  });

  test('OSV event lists with several intervals and limits', () => {
    const events: OsvEvent[] = [
      { introduced: '0' },
      { fixed: '1.0.5' },
      { introduced: '1.1.0' },
      { fixed: '1.1.3' },
      { introduced: '2.0.0' },
      { last_affected: '2.0.4' },
    ];
    const cases: Array<[string, boolean]> = [
      ['0.1.0', true],
      ['1.0.4', true],
      ['1.0.5', false],
      ['1.0.9', false],
      ['1.1.0', true],
      ['1.1.2', true],
      ['1.1.3', false],
      ['1.9.9', false],
      ['2.0.0', true],
      ['2.0.4', true],
      ['2.0.5', false],
      ['3.0.0', false],
    ];
    for (const [v, exp] of cases) assert.equal(affected(v, events, 'Go'), exp, v);
    // Order of the events does not matter.
    assert.equal(affected('1.1.2', [...events].reverse(), 'Go'), true);
    assert.equal(affected('2.5.0', [{ introduced: '2.0.0' }, { limit: '2.5.0' }], 'Go'), false);
    assert.equal(affected('2.4.9', [{ introduced: '2.0.0' }, { limit: '2.5.0' }], 'Go'), true);
    assert.equal(affected('1.0.0', [{ fixed: '2.0.0' }], 'Go'), false, 'an event list with no introduced affects nothing');
  });

  test('range strings: npm/semver grammar for semver ecosystems, comparators elsewhere', () => {
    assert.ok(affected('1.2.0', '>=1.0.0 <1.2.3', 'npm'));
    assert.ok(!affected('1.2.3', '>=1.0.0 <1.2.3', 'npm'));
    assert.ok(affected('1.2.3-rc.1', '>=1.0.0 <1.2.3', 'npm'), 'pre-releases are included when checking vulnerability');
    assert.ok(affected('1.2.9', '^1.2', 'npm') && !affected('2.0.0', '^1.2', 'npm'));
    assert.ok(affected('1.0.1', '< 1.0.5 || >= 2.0, < 2.1', 'semver'));
    assert.ok(affected('2.0.5', '< 1.0.5 || >= 2.0, < 2.1', 'semver'));
    assert.ok(!affected('1.5.0', '< 1.0.5 || >= 2.0, < 2.1', 'semver'));
    assert.ok(affected('2.7.0-1', '<2.7.0-2', 'Debian'));
    assert.ok(affected('1.0rc1', '>=1.0a1, <1.0', 'PyPI'));
    assert.ok(affected('1.0-r1', '< 1.0-r2', 'Alpine'));
    assert.ok(!affected('1.2.0', '>= 1.0, < 1.2, != 1.1', 'Maven') && !affected('1.1', '>= 1.0, < 1.2, != 1.1', 'Maven'));
    assert.ok(affected('1.1.1', '>= 1.0, < 1.2, != 1.1', 'Maven'));
    assert.ok(satisfies('2.0-1.el9', '>= 1.0-1 <= 2.0-1.el9', 'rpm'));
  });

  test('invalid input never throws: check() says unknown and why', () => {
    assert.deepEqual(check('not-a-version', { introduced: '0', fixed: '1.0.0' }, 'npm').verdict, 'unknown');
    assert.equal(affected('not-a-version', { introduced: '0', fixed: '1.0.0' }, 'npm'), false);
    assert.match(check('1.0.0', { introduced: '0', fixed: 'garbage!' }, 'npm').reason ?? '', /fixed "garbage!" is not a valid npm version/);
    // npm's own parser silently drops comparators it cannot read (">=1.0.0 <foo" means ">=1.0.0"
    // there); for a vulnerability check that would be a false positive, so we refuse the range.
    assert.equal(check('1.0.0', '>=1.0.0 <foo', 'npm').verdict, 'unknown');
    assert.equal(check('1.0.0', '>=1.0.0 <<<', 'npm').verdict, 'unknown');
    assert.equal(satisfies('1.0.0', '>=1.0.0 <foo', 'npm'), false);
    assert.equal(check('1.0', '~=1.0', 'PyPI').verdict, 'unknown', 'PEP 440 ~= is not a plain comparator');
    assert.equal(check('1.0.0', { fixed: '2.0.0' }, 'RubyGems').verdict, 'unknown');
    assert.equal(affected('1.0.0', { fixed: '2.0.0' }, 'RubyGems'), false);
    assert.throws(() => getScheme('RubyGems'), /no version scheme for ecosystem "RubyGems"/);
  });
});

// ---------------------------------------------------------------------------------------------
// the registry
// ---------------------------------------------------------------------------------------------

describe('registry', () => {
  test('OSV and distro names resolve to one scheme each', () => {
    const expect: Array<[string, string]> = [
      ['Debian:12', 'dpkg'],
      ['Ubuntu:22.04:LTS', 'dpkg'],
      ['deb', 'dpkg'],
      ['Alpine:v3.18', 'apk2'],
      ['Alpine:v3.23', 'apk'],
      ['Alpine', 'apk'],
      ['Wolfi', 'apk'],
      ['Red Hat:enterprise_linux:9', 'rpm'],
      ['Rocky Linux:8', 'rpm'],
      ['AlmaLinux:9', 'rpm'],
      ['openSUSE:Leap 15.5', 'rpm'],
      ['PyPI', 'pep440'],
      ['npm', 'npm'],
      ['Go', 'go'],
      ['Maven', 'maven'],
      ['crates.io', 'semver'],
      ['SEMVER', 'semver'],
    ];
    for (const [eco, name] of expect) assert.equal(schemeFor(eco)?.name, name, eco);
    assert.equal(schemeFor('Packagist'), undefined);
    assert.equal(compareVersions('Debian', '1.0~rc1', '1.0'), -1);
    assert.deepEqual(
      SCHEMES.map((s) => s.name),
      ['dpkg', 'rpm', 'apk', 'apk2', 'pep440', 'semver', 'npm', 'go', 'maven'],
    );
  });

  test('every scheme: never throws, and compare is a total order over junk and real versions alike (Maven: pairwise only)', () => {
    const r = prng(0x70741);
    const alphabet = [
      '0',
      '1',
      '2',
      '9',
      '10',
      '.',
      '-',
      '_',
      '~',
      '^',
      '+',
      ':',
      '!',
      'a',
      'b',
      'r',
      'rc',
      'p',
      'alpha',
      'v',
      'V',
      'Z',
      ' ',
      'é',
      '\u0000',
      '*',
    ];
    const corpus = [
      '',
      '0',
      '1',
      '1.0',
      '1.0.0',
      '1:1.0-1',
      '1.0~rc1',
      '1.0-r1',
      '1.0.0-beta.1',
      'v1.2.3',
      '1!2.0',
      ...Array.from({ length: 70 }, () => Array.from({ length: 1 + r.int(7) }, () => r.pick(alphabet)).join('')),
    ];
    for (const s of SCHEMES) {
      const sorted = [...corpus].sort(s.compare);
      for (const a of corpus) {
        assert.equal(typeof s.valid(a), 'boolean');
        assert.equal(s.compare(a, a), 0, `${s.name}: ${JSON.stringify(a)} == itself`);
        for (const b of corpus) {
          const ab = s.compare(a, b);
          assert.ok(ab === -1 || ab === 0 || ab === 1);
          assert.equal(s.compare(b, a), -ab || 0, `${s.name}: antisymmetric for ${JSON.stringify(a)} ${JSON.stringify(b)}`);
        }
      }
      // Sorted order must be consistent: every earlier element is <= every later one (transitivity).
      // Not for Maven: ComparableVersion itself is not transitive (see the maven tests), and we
      // answer every pair exactly as Maven does rather than impose an order Maven does not have.
      if (s.name === 'maven') continue;
      for (let i = 0; i < sorted.length; i++) {
        for (let j = i + 1; j < sorted.length; j++) {
          assert.ok(
            s.compare(sorted[i], sorted[j]) <= 0,
            `${s.name}: ${JSON.stringify(sorted[i])} sorted before ${JSON.stringify(sorted[j])} but compares greater`,
          );
        }
      }
    }
  });
});
