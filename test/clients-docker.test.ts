// Docker and containerd against Berth with accounts (issue 13): Debian's dockerd runs here without
// containers (no iptables, no bridge, vfs, its own socket and directories), and the docker client
// (docker.io's /usr/bin/docker, the one that matches the daemon) logs in, pushes, pulls by tag and
// by digest, and pulls both platforms of a multi-arch image pushed by skopeo; containerd runs with
// its own config, root, state and socket, and `ctr` pulls and pushes with --plain-http --user.
// Each part is skipped, with the reason, when its daemon cannot start on this machine.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, type TestServer } from './helpers/server.ts';
import { api, host } from './helpers/accounts.ts';
import { buildImage, buildIndex, tar, writeOciLayout } from './helpers/images.ts';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const DEV: [string, string] = ['dev', 'dev-password-1'];
// docker.io installs the client as /usr/bin/docker; another docker on PATH (/usr/local/bin) may not
// speak the daemon's API version, so the one from the same package is used when it is there.
const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p));
const CONTAINERD = ['/usr/bin/containerd', '/usr/sbin/containerd'].find((p) => existsSync(p));
const tmp = mkdtempSync(path.join(tmpdir(), 'berth-docker-'));

function run(
  bin: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input = '',
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
    c.stdin.end(input);
  });
}

/** Starts a daemon and waits until `ready()` answers (the event), or it exits, or 60 s pass. */
async function startDaemon(
  bin: string,
  args: string[],
  log: string,
  ready: () => Promise<boolean>,
): Promise<{ proc?: ChildProcess; skip: string | false }> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: false });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  let exited: number | null | undefined;
  proc.on('exit', (code) => (exited = code));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (exited !== undefined) break;
    if (await ready()) return { proc, skip: false };
    await new Promise((r) => setTimeout(r, 250)); // polling the socket: there is no event to wait for
  }
  proc.kill('SIGKILL');
  writeFileSync(log, out);
  const last = out.trim().split('\n').slice(-2).join(' ').slice(0, 300);
  return { skip: `${path.basename(bin)} could not start here (${exited !== undefined ? `exit ${exited}` : 'not ready in 60 s'}): ${last}` };
}

// ---- the daemons (started before the tests are declared, so a failure is a counted skip) ------

const dockerDir = path.join(tmp, 'docker');
mkdirSync(dockerDir, { recursive: true });
const DOCKER_ENV = { DOCKER_HOST: `unix://${dockerDir}/docker.sock`, DOCKER_CONFIG: path.join(dockerDir, 'config') };
const dockerd = !DOCKERD
  ? { skip: 'dockerd is not installed (apt-get install docker.io)' as string | false, proc: undefined }
  : await startDaemon(
      DOCKERD,
      [
        '--iptables=false',
        '--ip6tables=false',
        '--bridge=none',
        '--storage-driver=vfs',
        '-H',
        DOCKER_ENV.DOCKER_HOST,
        '--data-root',
        path.join(dockerDir, 'data'),
        '--exec-root',
        path.join(dockerDir, 'exec'),
        '--pidfile',
        path.join(dockerDir, 'docker.pid'),
      ],
      path.join(dockerDir, 'dockerd.log'),
      async () =>
        existsSync(path.join(dockerDir, 'docker.sock')) &&
        (await run(DOCKER, ['version', '--format', '{{.Server.Version}}'], DOCKER_ENV)).status === 0,
    );
const dockerSkip = dockerd.skip;

const ctrDir = path.join(tmp, 'containerd');
mkdirSync(ctrDir, { recursive: true });
const CTR_SOCK = path.join(ctrDir, 'containerd.sock');
writeFileSync(
  path.join(ctrDir, 'config.toml'),
  [
    'version = 2',
    `root = "${ctrDir}/root"`,
    `state = "${ctrDir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${CTR_SOCK}"`,
    '[ttrpc]',
    `  address = "${CTR_SOCK}.ttrpc"`,
  ].join('\n') + '\n',
);
const containerd = !CONTAINERD
  ? { skip: 'containerd is not installed (apt-get install containerd)' as string | false, proc: undefined }
  : await startDaemon(
      CONTAINERD,
      ['--config', path.join(ctrDir, 'config.toml')],
      path.join(ctrDir, 'containerd.log'),
      async () => existsSync(CTR_SOCK) && (await run('ctr', ['-a', CTR_SOCK, 'version'])).status === 0,
    );
const ctrSkip = containerd.skip;

let s: TestServer | undefined;
async function server(): Promise<TestServer> {
  if (s) return s;
  s = await startServer('sqlite', {}, { auth: true, config: { BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] } } });
  assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
  assert.equal((await api(s, 'POST', '/user/', ADMIN, { username: DEV[0], password: DEV[1] })).status, 201);
  return s;
}

after(async () => {
  for (const d of [dockerd.proc, containerd.proc]) {
    if (!d || d.exitCode !== null) continue;
    const gone = new Promise((r) => d.once('exit', r));
    d.kill('SIGTERM');
    await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
    if (d.exitCode === null) d.kill('SIGKILL');
  }
  await s?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const docker = (args: string[], input = '') => run(DOCKER, args, DOCKER_ENV, input);

test('docker: a wrong password is refused with the reason; login, push, pull by tag and by digest', {
  skip: dockerSkip,
  timeout: 240_000,
}, async () => {
  const srv = await server();
  const h = host(srv);
  const bad = await docker(['login', '-u', ADMIN[0], '--password-stdin', h], 'wrong-password\n');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /unauthorized|incorrect username or password|invalid username\/password/i, bad.stderr);
  const login = await docker(['login', '-u', ADMIN[0], '--password-stdin', h], `${ADMIN[1]}\n`);
  assert.equal(login.status, 0, login.stderr);
  assert.match(login.stdout, /Login Succeeded/);

  // A one-layer image made from a root file system tarball.
  const rootfs = path.join(tmp, 'rootfs.tar');
  writeFileSync(rootfs, tar({ 'etc/os-release': 'ID=berth-test\n', 'hello.txt': 'hello from docker\n' }));
  const imported = await docker(['import', '--change', 'CMD ["/hello"]', rootfs, `${h}/acme/docker:1.0`]);
  assert.equal(imported.status, 0, imported.stderr);
  const push = await docker(['push', `${h}/acme/docker:1.0`]);
  assert.equal(push.status, 0, push.stderr);
  const digest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)?.[1];
  assert.ok(digest, push.stdout);
  const tags = await api(srv, 'GET', '/repository/acme/docker/tag/?specificTag=1.0', ADMIN);
  assert.equal(tags.json.tags[0].manifest_digest, digest, 'Berth has the tag docker pushed, with the same digest');

  assert.equal((await docker(['rmi', '-f', `${h}/acme/docker:1.0`])).status, 0);
  const byTag = await docker(['pull', `${h}/acme/docker:1.0`]);
  assert.equal(byTag.status, 0, byTag.stderr);
  assert.match(byTag.stdout, new RegExp(`Digest: ${digest}`));
  assert.equal((await docker(['rmi', '-f', `${h}/acme/docker:1.0`])).status, 0);
  const byDigest = await docker(['pull', `${h}/acme/docker@${digest}`]);
  assert.equal(byDigest.status, 0, byDigest.stderr);
  const inspect = await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${h}/acme/docker@${digest}`]);
  assert.ok(JSON.parse(inspect.stdout).includes(`${h}/acme/docker@${digest}`), inspect.stdout);

  // The reasons users meet: a tag that does not exist, and a user without access.
  const missing = await docker(['pull', `${h}/acme/docker:nope`]);
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /manifest unknown|not found/i, missing.stderr);
  assert.equal((await docker(['logout', h])).status, 0);
  assert.equal((await docker(['login', '-u', DEV[0], '--password-stdin', h], `${DEV[1]}\n`)).status, 0);
  const denied = await docker(['pull', `${h}/acme/docker:1.0`]);
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /denied|unauthorized|not found|does not exist/i, denied.stderr);
  const deniedPush = await docker(['push', `${h}/acme/docker@${digest}`])
    .then(() => docker(['tag', `${h}/acme/docker@${digest}`, `${h}/acme/docker:dev`]))
    .then(() => docker(['push', `${h}/acme/docker:dev`]));
  assert.notEqual(deniedPush.status, 0);
  assert.match(deniedPush.stderr, /denied|unauthorized|requested access to the resource is denied/i, deniedPush.stderr);
  assert.equal((await docker(['logout', h])).status, 0);
});

test('docker: a multi-arch image pushed by skopeo is pulled per platform', {
  skip: dockerSkip || (spawnSync('skopeo', ['--version']).status !== 0 && 'skopeo is not installed'),
  timeout: 240_000,
}, async () => {
  const srv = await server();
  const h = host(srv);
  const images = await Promise.all(
    ['amd64', 'arm64'].map((architecture) =>
      buildImage({
        format: 'oci',
        architecture,
        os: 'linux',
        layers: [{ 'arch.txt': `${architecture}\n` }],
        cmd: ['/bin/true'],
      }),
    ),
  );
  const index = buildIndex('oci', images);
  const layout = path.join(tmp, 'multi');
  writeOciLayout(layout, { v1: index });
  const copy = await run('skopeo', [
    'copy',
    '--all',
    '--dest-creds',
    ADMIN.join(':'),
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${h}/acme/multi:1`,
  ]);
  assert.equal(copy.status, 0, copy.stderr);
  assert.equal((await docker(['login', '-u', ADMIN[0], '--password-stdin', h], `${ADMIN[1]}\n`)).status, 0);
  for (const [i, arch] of ['amd64', 'arm64'].entries()) {
    const pull = await docker(['pull', '--platform', `linux/${arch}`, `${h}/acme/multi:1`]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: ${index.descriptor.digest}`), 'the tag is the index');
    const got = await docker(['image', 'inspect', '--format', '{{.Architecture}} {{.Os}}', `${h}/acme/multi:1`]);
    assert.equal(got.stdout.trim(), `${arch} linux`);
    const byDigest = await docker(['pull', `${h}/acme/multi@${images[i].descriptor.digest}`]);
    assert.equal(byDigest.status, 0, byDigest.stderr);
  }
  assert.equal((await docker(['logout', h])).status, 0);
});

const ctr = (args: string[]) => run('ctr', ['-a', CTR_SOCK, '-n', 'berth', ...args]);

test('containerd: ctr pulls and pushes with --plain-http --user; a wrong password is refused', {
  skip: ctrSkip,
  timeout: 240_000,
}, async () => {
  const srv = await server();
  const h = host(srv);
  const img = await buildImage({ format: 'oci', layers: [{ 'ctr.txt': 'from ctr\n' }] });
  const layout = path.join(tmp, 'ctr-src');
  writeOciLayout(layout, { v1: img });
  const seed = await run('skopeo', [
    'copy',
    '--dest-creds',
    ADMIN.join(':'),
    '--dest-tls-verify=false',
    `oci:${layout}:v1`,
    `docker://${h}/acme/ctr:1`,
  ]);
  assert.equal(seed.status, 0, seed.stderr);

  const bad = await ctr(['images', 'pull', '--plain-http', '--user', `${ADMIN[0]}:wrong-password`, `${h}/acme/ctr:1`]);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /401|unauthorized|authoriz/i, bad.stderr);
  const pull = await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'native', '--user', ADMIN.join(':'), `${h}/acme/ctr:1`]);
  assert.equal(pull.status, 0, pull.stderr);
  const list = await ctr(['images', 'ls', '-q']);
  assert.match(list.stdout, new RegExp(`${h}/acme/ctr:1`));
  const check = await ctr(['images', 'check']);
  assert.match(check.stdout, new RegExp(`${h}/acme/ctr:1\\s.*complete`));

  assert.equal((await ctr(['images', 'tag', `${h}/acme/ctr:1`, `${h}/acme/ctr-pushed:2`])).status, 0);
  const push = await ctr(['images', 'push', '--plain-http', '--user', ADMIN.join(':'), `${h}/acme/ctr-pushed:2`]);
  assert.equal(push.status, 0, push.stderr);
  const tags = await api(srv, 'GET', '/repository/acme/ctr-pushed/tag/?specificTag=2', ADMIN);
  assert.equal(tags.json.tags?.[0]?.manifest_digest, img.descriptor.digest, 'ctr pushed the same manifest');
  const deniedPush = await ctr(['images', 'push', '--plain-http', '--user', DEV.join(':'), `${h}/acme/ctr-pushed:2`]);
  assert.notEqual(deniedPush.status, 0);
  assert.match(deniedPush.stderr, /denied|unauthorized|403|401/i, deniedPush.stderr);
});
