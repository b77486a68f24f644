// Progress for long CLI work (issue 13, defect 11): on a terminal, `berth chart push-package` of a
// large chart and `berth gc` draw one rewritten line (count, bytes, rate, a bar); through a pipe they
// print only their results. The terminal is a real pseudo-terminal from util-linux's `script`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BERTH_BIN, startServer, type TestServer } from './helpers/server.ts';
import { pushImage } from './helpers/registry-client.ts';
import { renderProgress, progress } from '../src/cli/progress.ts';

const haveScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const ptySkip = !haveScript && 'util-linux `script` is not installed (no pseudo-terminal to test with)';
let s: TestServer;
let dir: string;

before(async () => {
  s = await startServer('sqlite');
  dir = mkdtempSync(path.join(tmpdir(), 'berth-progress-'));
});
after(async () => {
  await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const env = () => {
  const e: NodeJS.ProcessEnv = { ...process.env, HOME: dir, BERTH_CHART_CACHE: path.join(dir, 'cache'), COLUMNS: '160' };
  delete e.BERTH_PROGRESS;
  return e;
};

/** Runs berth through a pipe: stdout and stderr apart. */
function piped(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BERTH_BIN, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs berth on a pseudo-terminal (script -qfec): everything it wrote to the terminal. */
function onPty(args: string[]): Promise<{ status: number | null; out: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
  const cmd = [process.execPath, BERTH_BIN, ...args].map(quote).join(' ');
  return new Promise((resolve) => {
    const c = spawn('script', ['-qfec', `stty cols 160; ${cmd}`, '/dev/null'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (status) => resolve({ status, out }));
  });
}

test('the progress line: label, bar, count, bytes and rate; nothing at all when not on a terminal', () => {
  const line = renderProgress('chart push', { label: 'uploading', bytes: 3 * 1024 * 1024, totalBytes: 12 * 1024 * 1024 }, 2000);
  assert.equal(line, 'chart push  uploading  [######..................]  25%  3.0 MiB/12.0 MiB  1.5 MiB/s');
  assert.equal(
    renderProgress('gc', { label: 'blobs', done: 3, total: 4, unit: 'blobs', bytes: 2048 }, 1000),
    'gc  blobs  [##################......]  75%  3/4 blobs  2.0 KiB  2.0 KiB/s',
  );
  assert.equal(
    renderProgress('import', { label: 'osv: importing', done: 1500, unit: 'records' }, 500),
    'import  osv: importing  1500 records  3000 records/s',
  );
  const written: string[] = [];
  const fake = { isTTY: false, columns: 80, write: (x: string) => written.push(x) } as unknown as NodeJS.WriteStream;
  const quiet = progress('x', { stream: fake });
  quiet.update({ done: 1 });
  quiet.done();
  assert.equal(quiet.active, false);
  assert.deepEqual(written, []);
  let t = 0;
  const tty = progress('x', { stream: { ...fake, isTTY: true } as unknown as NodeJS.WriteStream, now: () => t });
  tty.update({ done: 1, unit: 'things' });
  t = 50;
  tty.update({ done: 2 }); // within 100 ms: not drawn
  t = 150;
  tty.update({ done: 3 });
  tty.done();
  assert.deepEqual(written, ['\r\x1b[Kx  1 things', '\r\x1b[Kx  3 things  20 things/s', '\r\x1b[K']);
});

test('berth chart push-package of a large chart: a progress bar on a terminal, only the result through a pipe', {
  skip: ptySkip,
  timeout: 120_000,
}, async () => {
  const chart = path.join(dir, 'big');
  mkdirSync(path.join(chart, 'files'), { recursive: true });
  writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: big\nversion: 1.0.0\ndescription: a large chart\n');
  writeFileSync(path.join(chart, 'files', 'data.bin'), randomBytes(12 * 1024 * 1024)); // incompressible
  const pkg = await piped(['chart', 'package', chart, '-d', dir]);
  assert.equal(pkg.status, 0, pkg.stderr);
  const tgz = path.join(dir, 'big-1.0.0.tgz');
  const host = new URL(s.url).host;

  const tty = await onPty(['chart', 'push-package', tgz, `oci://${host}/progress/tty`, '--plain-http']);
  assert.equal(tty.status, 0, tty.out);
  assert.match(
    tty.out,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal escapes are what is checked
    /\r\x1b\[Kchart push {2}uploading {2}\[#*\.*\] +\d+% {2}[\d.]+ (KiB|MiB)\/12\.0 MiB {2}[\d.]+ (B|KiB|MiB|GiB)\/s/,
    JSON.stringify(tty.out.slice(0, 400)),
  );
  const frames = tty.out.split('\r\x1b[Kchart push').length - 1;
  assert.ok(frames >= 1, `${frames} progress frames`);
  assert.match(tty.out, /Pushed: [^\r\n]*\/progress\/tty\/big:1\.0\.0/);

  const pipe = await piped(['chart', 'push-package', tgz, `oci://${host}/progress/pipe`, '--plain-http']);
  assert.equal(pipe.status, 0, pipe.stderr);
  assert.match(pipe.stdout, /^Pushed: [^\n]*\/progress\/pipe\/big:1\.0\.0\n/);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal escapes are what is checked
  assert.doesNotMatch(pipe.stdout + pipe.stderr, /\r|\x1b\[|chart push {2}/, 'no progress through a pipe');
  assert.equal(pipe.stderr, '');
});

test('berth gc: a progress line on a terminal, only the summary through a pipe', { skip: ptySkip, timeout: 120_000 }, async () => {
  const gcArgs = ['gc', '--data', s.dataDir, '--grace', '0', '--dry-run'];
  for (let i = 0; i < 3; i++) {
    const img = await pushImage(s.url, 'progress/gc', `v${i}`, `gc-${i}`);
    assert.equal((await fetch(`${s.url}/v2/progress/gc/manifests/${img.digest}`, { method: 'DELETE' })).status, 202);
  }
  const tty = await onPty(gcArgs);
  assert.equal(tty.status, 0, tty.out);
  // A pass examines only its candidates (and, on the first run, the sweep's rows): its totals are not known up front,
  // so the line shows the phase and its count (drawn at most every 100 ms: a short pass shows its first phase).
  assert.match(
    tty.out,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal escapes are what is checked
    /\r\x1b\[Kgc {2}(sweep|uploads|manifests|links|blobs|stray files) {2}\d+ (rows|uploads|manifests|links|blobs|stray files)/,
    JSON.stringify(tty.out.slice(0, 400)),
  );
  assert.match(tty.out, /gc: would free \d+ bytes [^\n]*: 6 blobs,/);

  const pipe = await piped(gcArgs);
  assert.equal(pipe.status, 0, pipe.stderr);
  assert.match(pipe.stdout, /^gc: would free \d+ bytes [^\n]*: 6 blobs,/);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal escapes are what is checked
  assert.doesNotMatch(pipe.stdout + pipe.stderr, /\r|\x1b\[/);
  assert.equal(pipe.stderr, '');
});
