// `berth chart` and `berth login` run as a user would (child processes), against a real Berth:
//  1. the Helm 3.5 seed workflow over HTTPS with the CA of `berth certs init`: save, list, login, push,
//     remove locally, pull, export — the exported chart is identical to the original;
//  2. the Helm 3.8+ workflow (package, push-package, pull oci:// --version <constraint>) and the errors users meet;
//  3. what the CLI pushes, fetched with plain HTTP and checked field by field against Helm's format
//     (media types and annotation keys are constants here, not imported from the code under test).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { startServer, BERTH_BIN, type TestServer } from './helpers/server.ts';
import { basic, host } from './helpers/accounts.ts';

// Helm's OCI format (helm/helm pkg/registry/constants.go, chart.go; opencontainers image-spec annotations).
const CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
const CHART_LAYER_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const PROV_LAYER_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const A_TITLE = 'org.opencontainers.image.title';
const A_VERSION = 'org.opencontainers.image.version';
const A_DESCRIPTION = 'org.opencontainers.image.description';
const A_URL = 'org.opencontainers.image.url';
const A_SOURCE = 'org.opencontainers.image.source';
const A_CREATED = 'org.opencontainers.image.created';
const A_AUTHORS = 'org.opencontainers.image.authors';
/** The gzip extra field Helm's chartutil.Save writes into every chart archive. */
const HELM_GZIP_EXTRA = '+aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=';

const ADMIN: [string, string] = ['admin', 'admin-password-1'];
const DEV: [string, string] = ['dev', 'dev-password-123'];
const tmp = mkdtempSync(path.join(tmpdir(), 'berth-chart-cli-'));
/** /api/v1 through the in-process app (the test process does not trust the test CA). */
async function api(s: TestServer, method: 'GET', url: string, creds?: [string, string]): Promise<{ status: number; json: any }> {
  const r = await s.berth.app.inject({ method, url: `/api/v1${url}`, headers: creds ? { authorization: basic(...creds) } : {} });
  return { status: r.statusCode, json: r.json() };
}
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A chart directory whose Chart.yaml is already in the form Helm writes (sorted keys), so export is byte-identical. */
function makeChart(dir: string, name: string, version: string, extra = ''): string {
  const root = path.join(dir, name);
  mkdirSync(path.join(root, 'templates'), { recursive: true });
  writeFileSync(
    path.join(root, 'Chart.yaml'),
    [
      'apiVersion: v2',
      'appVersion: 1.8.6',
      'description: A real-time collaborative editor',
      'home: https://etherpad.org',
      'keywords:',
      '- editor',
      '- collaboration',
      'maintainers:',
      '- email: ops@example.com',
      '  name: Ops Team',
      '- name: Ann',
      `name: ${name}`,
      'sources:',
      '- https://github.com/ether/etherpad-lite',
      'type: application',
      `version: ${version}`,
      extra,
    ]
      .filter(Boolean)
      .join('\n') + '\n',
  );
  writeFileSync(path.join(root, 'values.yaml'), 'replicaCount: 1\nimage:\n  repository: etherpad/etherpad\n');
  writeFileSync(
    path.join(root, 'templates', 'deployment.yaml'),
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n',
  );
  writeFileSync(path.join(root, 'templates', '_helpers.tpl'), '{{- define "etherpad.name" -}}etherpad{{- end }}\n');
  writeFileSync(path.join(root, 'templates', 'NOTES.txt'), 'Etherpad is running.\n');
  writeFileSync(path.join(root, 'README.md'), '# etherpad\n');
  writeFileSync(path.join(root, '.helmignore'), '# editor files\n*.tmp\n*.swp\n');
  // Left out by .helmignore and by Helm's default rule (templates/.?*):
  writeFileSync(path.join(root, 'scratch.tmp'), 'ignored\n');
  writeFileSync(path.join(root, 'templates', '.hidden.yaml'), 'ignored\n');
  return root;
}

function listFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel))
    .sort()
    .flatMap((n) => {
      const r = rel ? `${rel}/${n}` : n;
      return statSync(path.join(dir, r)).isDirectory() ? listFiles(dir, r) : [r];
    });
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `berth …` as a child process without blocking the in-process server. */
function berth(args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [BERTH_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d) => (stdout += d));
    c.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    c.stdin.end(input ?? '');
  });
}

const ok = (r: Run, what: string) => assert.equal(r.code, 0, `${what}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
const fails = (r: Run, re: RegExp, what: string) => {
  assert.notEqual(r.code, 0, `${what} should fail\n${r.stdout}`);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line, got:\n${r.stderr}`);
  assert.match(lines[0], re, what);
};

describe('Helm 3.5 workflow over HTTPS with the CA of berth certs init', () => {
  let s: TestServer;
  let env: Record<string, string>;
  let ca: string;
  let chartDir: string;
  let ref: string;
  const dir = path.join(tmp, 'https');

  before(async () => {
    mkdirSync(dir, { recursive: true });
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'SERVER_HOSTNAME: localhost:1\n');
    const init = spawnSync(process.execPath, [BERTH_BIN, 'certs', 'init', '--config', cfg, '--data', dir], { encoding: 'utf8' });
    assert.equal(init.status, 0, init.stderr);
    const tls = path.join(dir, 'tls');
    ca = path.join(tls, 'ca.crt');
    s = await startServer(
      'sqlite',
      {},
      {
        auth: true,
        config: {
          PREFERRED_URL_SCHEME: 'https',
          TLS_CERT_FILE: path.join(tls, 'server.crt'),
          TLS_KEY_FILE: path.join(tls, 'server.key'),
          BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
        },
      },
    );
    assert.match(s.url, /^https:/);
    // A real user, created through the accounts service by the superuser.
    await s.berth.accounts.users.create({ name: DEV[0], password: DEV[1] });
    const home = path.join(dir, 'home');
    mkdirSync(home);
    env = {
      HOME: home,
      HELM_CACHE_HOME: path.join(dir, 'helm-cache'),
      HELM_REGISTRY_CONFIG: path.join(dir, 'registry', 'config.json'),
      XDG_CONFIG_HOME: path.join(home, '.config'),
      NODE_EXTRA_CA_CERTS: '',
    };
    chartDir = makeChart(path.join(dir, 'src'), 'etherpad', '0.0.4');
    ref = `${host(s)}/dev/helm/etherpad:0.0.4`;
  });
  after(async () => {
    await s?.stop();
  });

  test('save, list, login, push, remove, pull, export: the exported chart equals the original', async () => {
    const save = await berth(['chart', 'save', chartDir, ref], env);
    ok(save, 'save');
    const lines = save.stdout.trim().split('\n');
    assert.equal(lines[0], `ref:     ${ref}`);
    assert.match(lines[1], /^digest:  [0-9a-f]{64}$/);
    assert.match(lines[2], /^size:    \d+(\.\d)? (B|KiB)$/);
    assert.deepEqual(lines.slice(3), ['name:    etherpad', 'version: 0.0.4', '0.0.4: saved']);
    const digest = lines[1].slice('digest:  '.length);

    // The cache is an OCI image layout under $HELM_CACHE_HOME/registry/cache.
    const cache = path.join(env.HELM_CACHE_HOME, 'registry', 'cache');
    assert.deepEqual(JSON.parse(readFileSync(path.join(cache, 'oci-layout'), 'utf8')), { imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(readFileSync(path.join(cache, 'index.json'), 'utf8'));
    assert.deepEqual(
      index.manifests.map((m: any) => [m.digest, m.annotations['org.opencontainers.image.ref.name']]),
      [[`sha256:${digest}`, ref]],
    );

    const list = await berth(['chart', 'list'], env);
    ok(list, 'list');
    const rows = list.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('\t').map((c) => c.trim()));
    assert.deepEqual(rows[0], ['REF', 'NAME', 'VERSION', 'DIGEST', 'SIZE', 'CREATED']);
    assert.deepEqual(rows[1].slice(0, 4), [ref, 'etherpad', '0.0.4', digest.slice(0, 7)]);
    assert.match(rows[1][5], /ago$/);

    // Not logged in yet: one line that says so.
    fails(await berth(['chart', 'push', ref, '--ca-file', ca], env), /not logged in to .*berth login/, 'push before login');
    // TLS without the CA: one line with the fix.
    fails(
      await berth(['login', host(s), '-u', DEV[0], '--password-stdin'], env, `${DEV[1]}\n`),
      /TLS certificate of .* is not trusted.*--ca-file/,
      'login without the CA',
    );
    fails(
      await berth(['login', host(s), '-u', DEV[0], '--password-stdin', '--ca-file', ca], env, 'wrong-password\n'),
      /wrong username or password/,
      'login with a wrong password',
    );
    const login = await berth(['login', host(s), '-u', DEV[0], '--password-stdin', '--ca-file', ca], env, `${DEV[1]}\n`);
    ok(login, 'login');
    assert.equal(login.stdout, 'Login Succeeded\n');
    // Stored as helm registry login and docker store it.
    const creds = JSON.parse(readFileSync(env.HELM_REGISTRY_CONFIG, 'utf8'));
    assert.deepEqual(creds, { auths: { [host(s)]: { auth: Buffer.from(`${DEV[0]}:${DEV[1]}`).toString('base64') } } });
    assert.equal(statSync(env.HELM_REGISTRY_CONFIG).mode & 0o777, 0o600);

    const push = await berth(['chart', 'push', ref, '--ca-file', ca], env);
    ok(push, 'push');
    const pl = push.stdout.trim().split('\n');
    assert.equal(pl[0], `The push refers to repository [${host(s)}/dev/helm/etherpad]`);
    assert.equal(pl[1], `ref:     ${ref}`);
    assert.equal(pl[2], `digest:  ${digest}`);
    assert.match(pl[6], /^0\.0\.4: pushed to remote \(1 layer, \d+(\.\d)? (B|KiB) total\)$/);

    const rm = await berth(['chart', 'rm', ref], env);
    ok(rm, 'rm');
    assert.equal(rm.stdout, '0.0.4: removed\n');
    assert.doesNotMatch((await berth(['chart', 'list'], env)).stdout, /etherpad/);
    fails(await berth(['chart', 'export', ref, '-d', path.join(dir, 'nowhere')], env), /Chart not found/, 'export of a removed chart');

    const pull = await berth(['chart', 'pull', ref, '--ca-file', ca], env);
    ok(pull, 'pull');
    const pulled = pull.stdout.trim().split('\n');
    assert.equal(pulled[0], `0.0.4: Pulling from ${host(s)}/dev/helm/etherpad`);
    assert.equal(pulled[2], `digest:  ${digest}`);
    assert.equal(pulled.at(-1), `Status: Downloaded newer chart for ${ref}`);

    const out = path.join(dir, 'exported');
    const exp = await berth(['chart', 'export', ref, '-d', out], env);
    ok(exp, 'export');
    assert.equal(exp.stdout.trim().split('\n').at(-1), `Exported chart to ${path.join(out, 'etherpad')}/`);
    const original = listFiles(chartDir).filter((f) => f !== 'scratch.tmp' && f !== 'templates/.hidden.yaml');
    const exported = listFiles(path.join(out, 'etherpad'));
    assert.deepEqual(exported, original);
    for (const f of original) assert.deepEqual(readFileSync(path.join(out, 'etherpad', f)), readFileSync(path.join(chartDir, f)), f);

    // /api/v1 shows the chart version with its Chart.yaml metadata.
    const charts = await api(s, 'GET', '/repository/dev/helm/etherpad/charts', DEV);
    assert.equal(charts.status, 200, JSON.stringify(charts.json));
    const c = charts.json.charts[0];
    assert.deepEqual(
      [c.name, c.version, c.appVersion, c.description, c.tags, c.digest],
      ['etherpad', '0.0.4', '1.8.6', 'A real-time collaborative editor', ['0.0.4'], `sha256:${digest}`],
    );
    assert.deepEqual(c.keywords, ['editor', 'collaboration']);
    assert.deepEqual(c.maintainers, [{ name: 'Ops Team', email: 'ops@example.com' }, { name: 'Ann' }]);
    const m = await api(s, 'GET', `/repository/dev/helm/etherpad/manifest/sha256:${digest}`, DEV);
    assert.equal(m.status, 200);
    assert.equal(m.json.artifact.kind, 'helm-chart');
    assert.equal(m.json.artifact.chart.name, 'etherpad');
    // Another user cannot read the private repository's charts.
    assert.equal((await api(s, 'GET', '/repository/dev/helm/etherpad/charts')).status, 401);
  });

  test('Helm 3.8+: package, push-package, pull oci:// with a semver constraint; chart and version not found', async () => {
    const pk = path.join(dir, 'pk');
    const v1 = makeChart(path.join(dir, 'v1'), 'etherpad', '0.0.5');
    const v2 = makeChart(path.join(dir, 'v2'), 'etherpad', '0.1.0');
    const flags = ['--ca-file', ca];
    for (const c of [v1, v2]) {
      const p = await berth(['chart', 'package', c, '-d', pk], env);
      ok(p, 'package');
      assert.match(p.stdout, /^Successfully packaged chart and saved it to: .*\/etherpad-0\.(0\.5|1\.0)\.tgz\n$/);
    }
    for (const v of ['0.0.5', '0.1.0']) {
      const r = await berth(['chart', 'push-package', path.join(pk, `etherpad-${v}.tgz`), `oci://${host(s)}/dev/charts`, ...flags], env);
      ok(r, 'push-package');
      assert.match(
        r.stdout,
        new RegExp(`^Pushed: ${host(s)}/dev/charts/etherpad:${v.replace(/\./g, '\\.')}\nDigest: sha256:[0-9a-f]{64}\n$`),
      );
    }
    const dest = path.join(dir, 'pulled');
    const pull = await berth(['chart', 'pull', `oci://${host(s)}/dev/charts/etherpad`, '--version', '^0.0', '-d', dest, ...flags], env);
    ok(pull, 'pull ^0.0');
    assert.match(pull.stdout, new RegExp(`^Pulled: ${host(s)}/dev/charts/etherpad:0\\.0\\.5\nDigest: sha256:`));
    assert.deepEqual(readFileSync(path.join(dest, 'etherpad-0.0.5.tgz')), readFileSync(path.join(pk, 'etherpad-0.0.5.tgz')));
    const latest = await berth(['chart', 'pull', `oci://${host(s)}/dev/charts/etherpad`, '-d', dest, ...flags], env);
    ok(latest, 'pull latest');
    assert.match(latest.stdout, /etherpad:0\.1\.0\n/);
    fails(
      await berth(['chart', 'pull', `oci://${host(s)}/dev/charts/etherpad`, '--version', '^2', '-d', dest, ...flags], env),
      /version not found.*\^2.*available: 0\.1\.0, 0\.0\.5/,
      'no matching version',
    );
    fails(
      await berth(['chart', 'pull', `oci://${host(s)}/dev/charts/missing`, '-d', dest, ...flags], env),
      /chart not found/,
      'missing chart',
    );
    fails(
      await berth(['chart', 'pull', `${host(s)}/dev/charts/etherpad:9.9.9`, ...flags], env),
      /version not found.*9\.9\.9/,
      'missing tag (3.5 pull)',
    );

    // A registry that refuses charts: the line names the key to change.
    const off = await startServer('sqlite', {}, { config: { FEATURE_HELM_OCI_SUPPORT: false } });
    try {
      fails(
        await berth(['chart', 'push-package', path.join(pk, 'etherpad-0.0.5.tgz'), `oci://${host(off)}/charts`, '--plain-http'], env),
        /refused the chart: .*FEATURE_HELM_OCI_SUPPORT: true/,
        'push to a registry without Helm support',
      );
    } finally {
      await off.stop();
    }
  });
});

describe("what berth chart pushes, fetched with plain HTTP, is Helm's format", () => {
  let s: TestServer;
  let env: Record<string, string>;
  const dir = path.join(tmp, 'format');

  before(async () => {
    s = await startServer('sqlite');
    mkdirSync(dir, { recursive: true });
    env = { HOME: dir, HELM_CACHE_HOME: path.join(dir, 'cache'), HELM_REGISTRY_CONFIG: path.join(dir, 'registry.json') };
  });
  after(async () => {
    await s?.stop();
  });

  const get = async (p: string) => {
    const r = await fetch(`${s.url}/v2/${p}`);
    assert.equal(r.status, 200, p);
    return { r, body: Buffer.from(await r.arrayBuffer()) };
  };

  test('Helm 3.8+ push: manifest without mediaType, Helm media types, sorted OCI annotations, config = json.Marshal(Metadata), "+" as "_"', async () => {
    const chart = makeChart(
      dir,
      'etherpad',
      '0.1.0+build.7',
      'annotations:\n  example.com/team: editors\n  org.opencontainers.image.title: overridden',
    );
    writeFileSync(
      path.join(chart, 'Chart.yaml'),
      readFileSync(path.join(chart, 'Chart.yaml'), 'utf8').replace(
        'description: A real-time collaborative editor',
        'description: Edits <docs> & more',
      ),
    );
    ok(await berth(['chart', 'package', chart, '-d', dir], env), 'package');
    const tgz = path.join(dir, 'etherpad-0.1.0+build.7.tgz');
    writeFileSync(`${tgz}.prov`, '-----BEGIN PGP SIGNED MESSAGE-----\nprovenance\n');
    const push = await berth(['chart', 'push-package', tgz, `oci://${new URL(s.url).host}/helm`, '--plain-http'], env);
    ok(push, 'push-package');
    // "+" is not allowed in a tag: Helm writes "_".
    assert.match(push.stdout, /^Pushed: [^\n]*\/helm\/etherpad:0\.1\.0_build\.7\n/);

    const { r, body } = await get('helm/etherpad/manifests/0.1.0_build.7');
    assert.equal(r.headers.get('content-type'), OCI_MANIFEST);
    const m = JSON.parse(body.toString());
    assert.deepEqual(Object.keys(m), ['schemaVersion', 'config', 'layers', 'annotations'], 'no mediaType field, Go field order');
    assert.equal(m.schemaVersion, 2);
    assert.deepEqual(Object.keys(m.config), ['mediaType', 'digest', 'size']);
    assert.equal(m.config.mediaType, CONFIG_MEDIA_TYPE);
    const archive = readFileSync(tgz);
    const prov = readFileSync(`${tgz}.prov`);
    const expectedLayers = [
      { mediaType: CHART_LAYER_MEDIA_TYPE, digest: sha(archive), size: archive.length },
      { mediaType: PROV_LAYER_MEDIA_TYPE, digest: sha(prov), size: prov.length },
    ].sort((a, b) => (a.digest < b.digest ? -1 : 1));
    assert.deepEqual(m.layers, expectedLayers, 'chart and provenance layers, sorted by digest');
    const created = m.annotations[A_CREATED];
    assert.match(created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$/);
    assert.equal(new Date(created).getTime(), Math.floor(statSync(tgz).mtimeMs / 1000) * 1000, "created = the archive's modification time");
    assert.deepEqual(m.annotations, {
      'example.com/team': 'editors',
      [A_AUTHORS]: 'Ops Team (ops@example.com), Ann',
      [A_CREATED]: created,
      [A_DESCRIPTION]: 'Edits <docs> & more',
      [A_SOURCE]: 'https://github.com/ether/etherpad-lite',
      [A_TITLE]: 'etherpad',
      [A_URL]: 'https://etherpad.org',
      [A_VERSION]: '0.1.0+build.7',
    });
    assert.deepEqual(Object.keys(m.annotations), Object.keys(m.annotations).sort(), 'Go marshals maps with sorted keys');
    // Go's encoding/json escapes <, > and & in strings.
    assert.ok(body.toString().includes('Edits \\u003cdocs\\u003e \\u0026 more'));

    const config = (await get(`helm/etherpad/blobs/${m.config.digest}`)).body;
    assert.equal(config.length, m.config.size);
    const expectedConfig =
      '{"name":"etherpad","home":"https://etherpad.org","sources":["https://github.com/ether/etherpad-lite"],' +
      '"version":"0.1.0+build.7","description":"Edits \\u003cdocs\\u003e \\u0026 more","keywords":["editor","collaboration"],' +
      '"maintainers":[{"name":"Ops Team","email":"ops@example.com"},{"name":"Ann"}],"apiVersion":"v2","appVersion":"1.8.6",' +
      '"annotations":{"example.com/team":"editors","org.opencontainers.image.title":"overridden"},"type":"application"}';
    assert.equal(config.toString(), expectedConfig);

    const layer = (await get(`helm/etherpad/blobs/${sha(archive)}`)).body;
    assert.deepEqual(layer, archive);
    // The archive is what helm package writes: gzip with Helm's extra field and comment, <name>/Chart.yaml first.
    assert.equal(layer[3] & 0x04, 0x04, 'FEXTRA');
    assert.equal(layer.subarray(12, 12 + HELM_GZIP_EXTRA.length).toString(), HELM_GZIP_EXTRA);
    assert.equal(layer.subarray(12 + HELM_GZIP_EXTRA.length, 12 + HELM_GZIP_EXTRA.length + 5).toString('latin1'), 'Helm\0');
    const tar = gunzipSync(layer);
    assert.equal(tar.subarray(0, 100).toString().replace(/\0+$/, ''), 'etherpad/Chart.yaml');
    assert.equal(tar.subarray(100, 108).toString(), '0000644\0');
    const names: string[] = [];
    for (let off = 0; off + 512 <= tar.length; ) {
      const n = tar
        .subarray(off, off + 100)
        .toString()
        .replace(/\0.*$/s, '');
      if (!n) break;
      names.push(n);
      off +=
        512 +
        Math.ceil(
          parseInt(
            tar
              .subarray(off + 124, off + 136)
              .toString()
              .trim(),
            8,
          ) / 512,
        ) *
          512;
    }
    assert.deepEqual(names, [
      'etherpad/Chart.yaml',
      'etherpad/values.yaml',
      'etherpad/templates/NOTES.txt',
      'etherpad/templates/_helpers.tpl',
      'etherpad/templates/deployment.yaml',
      'etherpad/.helmignore',
      'etherpad/README.md',
    ]);

    // The version is read back from the "_" tag as "+".
    const pulled = await berth(
      [
        'chart',
        'pull',
        `oci://${new URL(s.url).host}/helm/etherpad`,
        '--version',
        '0.1.0+build.7',
        '-d',
        path.join(dir, 'out'),
        '--plain-http',
      ],
      env,
    );
    ok(pulled, 'pull by version with +');
  });

  test('Helm 3.5 push: schemaVersion, config and one content layer, no mediaType, no annotations', async () => {
    const chart = makeChart(path.join(dir, 'v35'), 'etherpad', '0.0.4');
    const ref = `${new URL(s.url).host}/legacy/etherpad:0.0.4`;
    ok(await berth(['chart', 'save', chart, ref], env), 'save');
    ok(await berth(['chart', 'push', ref, '--plain-http'], env), 'push');
    const { r, body } = await get('legacy/etherpad/manifests/0.0.4');
    assert.equal(r.headers.get('content-type'), OCI_MANIFEST);
    const m = JSON.parse(body.toString());
    assert.deepEqual(Object.keys(m), ['schemaVersion', 'config', 'layers']);
    assert.equal(m.config.mediaType, CONFIG_MEDIA_TYPE);
    assert.deepEqual(
      m.layers.map((l: any) => [l.mediaType, Object.keys(l)]),
      [[CHART_LAYER_MEDIA_TYPE, ['mediaType', 'digest', 'size']]],
    );
    const config = JSON.parse((await get(`legacy/etherpad/blobs/${m.config.digest}`)).body.toString());
    assert.deepEqual(Object.keys(config), [
      'name',
      'home',
      'sources',
      'version',
      'description',
      'keywords',
      'maintainers',
      'apiVersion',
      'appVersion',
      'type',
    ]);
  });
});
