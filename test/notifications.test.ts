// Repository notifications against a local HTTP receiver: Quay's API (create, list, get, delete, reset,
// test), repo_push and vulnerability_found (minimum severity, hooked into the scanner's re-match) each
// delivered once with Quay's payload, webhook and Slack methods, HMAC-signed; failures counted, retried
// with backoff, the notification disabled at 3 failures (as Quay) and re-enabled by a reset; one
// delivery claimed by exactly one of two replicas. SQLite and PostgreSQL.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { testDialects } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { api } from './helpers/accounts.ts';
import { pushImage } from './helpers/registry-client.ts';
import { debianLayer, importDebianAdvisories, pushLayers } from './helpers/scan-image.ts';
import { NotificationService } from '../src/services/notifications/service.ts';

interface Got {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: any;
}

/** A webhook receiver: records every request; answers each path with the status its script gives. */
async function receiver() {
  const got: Got[] = [];
  const events = new EventEmitter();
  const script: Record<string, number[] | number> = {};
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const path = req.url ?? '';
      const g: Got = { path, headers: req.headers, body, json: JSON.parse(body) };
      const plan = script[path];
      res.statusCode = Array.isArray(plan) ? (plan.shift() ?? 200) : (plan ?? 200);
      res.end('ok');
      got.push(g);
      events.emit('request', g);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    got,
    script,
    of: (path: string) => got.filter((g) => g.path === path),
    /** Resolves when `path` has received `n` requests in all. */
    async until(path: string, n: number): Promise<Got[]> {
      while (got.filter((g) => g.path === path).length < n) await once(events, 'request');
      return got.filter((g) => g.path === path);
    },
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

for (const dialect of await testDialects()) {
  describe(`repository notifications (${dialect})`, () => {
    let s: TestServer;
    let rx: Awaited<ReturnType<typeof receiver>>;
    const create = async (repo: string, body: Record<string, unknown>) => {
      const r = await api(s, 'POST', `/repository/${repo}/notification/`, undefined, body);
      assert.equal(r.status, 201, JSON.stringify(r.json));
      return r.json as {
        uuid: string;
        signing_secret: string;
        number_of_failures: number;
        event: string;
        method: string;
        config: { url: string };
        event_config: Record<string, unknown>;
      };
    };
    const view = async (repo: string, uuid: string) => (await api(s, 'GET', `/repository/${repo}/notification/${uuid}`)).json;
    /** Runs a delivery pass of this replica and returns how many it sent (0: nothing left to send). */
    const pass = () => s.berth.audit.notifications.deliverDue();

    before(async () => {
      rx = await receiver();
      s = await startServer(
        dialect,
        {},
        { config: { SERVER_HOSTNAME: 'registry.example.com', NOTIFICATION_RETRY_SECONDS: 0.05, NOTIFICATION_POLL_SECONDS: 0.05 } },
      );
      await pushImage(s.url, 'acme/app', 'v0');
      await pushImage(s.url, 'acme/flaky', 'v0');
    });
    after(async () => {
      await s?.stop();
      await rx?.close();
    });

    test("create, list, get and delete in Quay's shapes; bad bodies refused with a clear message", async () => {
      const bad = async (body: unknown, re: RegExp) => {
        const r = await api(s, 'POST', '/repository/acme/app/notification/', undefined, body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.json.error_message, re);
      };
      await bad(
        { event: 'build_success', method: 'webhook', config: { url: rx.url } },
        /event must be one of repo_push, vulnerability_found/,
      );
      await bad({ event: 'repo_push', method: 'email', config: { url: rx.url } }, /method must be one of webhook, slack/);
      await bad({ event: 'repo_push', method: 'webhook', config: {} }, /config.url is required/);
      await bad({ event: 'repo_push', method: 'webhook', config: { url: 'ftp://x/y' } }, /http:\/\/ or https:\/\//);
      await bad(
        { event: 'vulnerability_found', method: 'webhook', config: { url: rx.url }, eventConfig: { level: 'Severe' } },
        /eventConfig.level must be a severity/,
      );
      assert.equal((await api(s, 'GET', '/repository/acme/app/notification/')).json.notifications.length, 0);
      const n = await create('acme/app', {
        event: 'vulnerability_found',
        method: 'webhook',
        config: { url: `${rx.url}/x` },
        eventConfig: { level: 'Medium' },
        title: 'sec',
      });
      assert.deepEqual(
        { ...n, uuid: undefined, signing_secret: undefined },
        {
          uuid: undefined,
          signing_secret: undefined,
          title: 'sec',
          event: 'vulnerability_found',
          method: 'webhook',
          config: { url: `${rx.url}/x` },
          event_config: { level: 3 },
          number_of_failures: 0,
          enabled: true,
          last_error: null,
        },
      );
      assert.match(n.signing_secret, /^[A-Za-z0-9_-]{40,}$/);
      const list = (await api(s, 'GET', '/repository/acme/app/notification/')).json.notifications;
      assert.deepEqual(
        list.map((x: { uuid: string }) => x.uuid),
        [n.uuid],
      );
      assert.equal(list[0].signing_secret, undefined, 'the signing secret is shown once, at creation');
      assert.equal((await view('acme/app', n.uuid)).title, 'sec');
      assert.equal((await api(s, 'GET', `/repository/acme/flaky/notification/${n.uuid}`)).status, 404, 'a uuid of another repository');
      assert.equal((await api(s, 'DELETE', `/repository/acme/app/notification/${n.uuid}`)).status, 204);
      assert.equal((await api(s, 'GET', `/repository/acme/app/notification/${n.uuid}`)).status, 404);
      assert.equal(
        (
          await api(s, 'POST', '/repository/acme/nope/notification/', undefined, {
            event: 'repo_push',
            method: 'webhook',
            config: { url: rx.url },
          })
        ).status,
        404,
      );
    });

    test("a push arrives once at a webhook (Quay's event data, signed) and at a Slack webhook (Slack's payload)", async () => {
      const hook = await create('acme/app', { event: 'repo_push', method: 'webhook', config: { url: `${rx.url}/push` } });
      const slack = await create('acme/app', { event: 'repo_push', method: 'slack', config: { url: `${rx.url}/slack` } });
      await pushImage(s.url, 'acme/app', 'v1');
      const [h] = await rx.until('/push', 1);
      const [sl] = await rx.until('/slack', 1);
      assert.deepEqual(h.json, {
        repository: 'acme/app',
        namespace: 'acme',
        name: 'app',
        docker_url: 'registry.example.com/acme/app',
        homepage: 'http://registry.example.com/repository/acme/app',
        updated_tags: ['v1'],
      });
      assert.equal(h.headers['x-berth-signature'], sign(hook.signing_secret, h.body));
      assert.equal(h.headers['x-berth-event'], 'repo_push');
      assert.equal(h.headers['content-type'], 'application/json');
      assert.equal(sl.json.text, 'Repository acme/app updated');
      assert.equal(sl.json.attachments.length, 1);
      assert.match(sl.json.attachments[0].text, /has been pushed with the following tags updated: \*v1\*/);
      assert.equal(sl.json.attachments[0].color, 'good');
      assert.equal(sl.headers['x-berth-signature'], sign(slack.signing_secret, sl.body));
      // Nothing else is due: each arrived once. A push by digest updates no tag and sends nothing.
      const { digest } = await pushImage(s.url, 'acme/app', 'v2-tmp');
      await rx.until('/push', 2);
      await rx.until('/slack', 2);
      const byDigest = await fetch(`${s.url}/v2/acme/app/manifests/${digest}`);
      const body = Buffer.from(await byDigest.arrayBuffer());
      assert.equal(
        (
          await fetch(`${s.url}/v2/acme/app/manifests/${digest}`, {
            method: 'PUT',
            body,
            headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
          })
        ).status,
        201,
      );
      assert.equal(await pass(), 0);
      assert.equal(rx.of('/push').length, 2);
      assert.equal(rx.of('/slack').length, 2);
      assert.deepEqual(rx.of('/push')[1].json.updated_tags, ['v2-tmp']);
      for (const n of [hook, slack]) assert.equal((await api(s, 'DELETE', `/repository/acme/app/notification/${n.uuid}`)).status, 204);
    });

    test('failures are counted and retried with backoff; 3 failures disable the notification (as Quay); reset and test re-enable it', async () => {
      rx.script['/flaky'] = [500, 503];
      const n = await create('acme/flaky', { event: 'repo_push', method: 'webhook', config: { url: `${rx.url}/flaky` } });
      await pushImage(s.url, 'acme/flaky', 'v1');
      const tries = await rx.until('/flaky', 3);
      assert.deepEqual(
        tries.map((t) => t.json.updated_tags),
        [['v1'], ['v1'], ['v1']],
        'the same event, retried',
      );
      // The third answer (200) is recorded right after the receiver sent it: wait for the server's state.
      const deliveriesOf = async () => (await api(s, 'GET', `/repository/acme/flaky/notification/${n.uuid}/deliveries`)).json.deliveries;
      let deliveries = await deliveriesOf();
      for (let i = 0; i < 200 && !deliveries[0]?.delivered; i++) deliveries = await deliveriesOf();
      let v = await view('acme/flaky', n.uuid);
      assert.equal(v.number_of_failures, 2);
      assert.equal(v.enabled, true);
      assert.equal(deliveries.length, 1);
      assert.equal(deliveries[0].attempts, 3);
      assert.ok(deliveries[0].delivered > 0);
      // One more failure disables it: no retry, and later events are not sent.
      rx.script['/flaky'] = 500;
      await pushImage(s.url, 'acme/flaky', 'v2');
      await rx.until('/flaky', 4);
      for (let i = 0; i < 200 && v.number_of_failures !== 3; i++) v = await view('acme/flaky', n.uuid);
      assert.deepEqual([v.number_of_failures, v.enabled], [3, false]);
      assert.match(v.last_error, /HTTP 500 from 127\.0\.0\.1:\d+/);
      await pushImage(s.url, 'acme/flaky', 'v3');
      assert.equal(await pass(), 0);
      assert.equal(rx.of('/flaky').length, 4, 'a disabled notification sends nothing');
      // Reset (Quay: POST …/notification/{uuid}), then the test endpoint sends Quay's sample data.
      rx.script['/flaky'] = 200;
      assert.equal((await api(s, 'POST', `/repository/acme/flaky/notification/${n.uuid}`)).status, 204);
      assert.deepEqual([(await view('acme/flaky', n.uuid)).number_of_failures, (await view('acme/flaky', n.uuid)).enabled], [0, true]);
      const t = await api(s, 'POST', `/repository/acme/flaky/notification/${n.uuid}/test`);
      assert.equal(t.status, 200);
      const all = await rx.until('/flaky', 5);
      assert.deepEqual(all[4].json.updated_tags, ['latest', 'foo']);
      assert.equal(all[4].json.repository, 'acme/flaky');
      assert.equal(all[4].headers['x-berth-signature'], sign(n.signing_secret, all[4].body));
      // And pushes are sent again.
      await pushImage(s.url, 'acme/flaky', 'v4');
      const again = await rx.until('/flaky', 6);
      assert.deepEqual(again[5].json.updated_tags, ['v4']);
      assert.equal((await api(s, 'POST', '/repository/acme/flaky/notification/00000000-no-such/test')).status, 404);
    });

    test('one queued delivery is sent by exactly one of two replicas', async () => {
      await s.berth.audit.notifications.stop();
      try {
        const n = await create('acme/app', { event: 'repo_push', method: 'webhook', config: { url: `${rx.url}/race` } });
        await pushImage(s.url, 'acme/app', 'race');
        // The event is queued right after the push's response: wait for its row.
        while ((await api(s, 'GET', `/repository/acme/app/notification/${n.uuid}/deliveries`)).json.deliveries.length === 0)
          await new Promise((r) => setImmediate(r));
        const cfg = s.berth.ctx.config;
        const a = new NotificationService({ db: s.berth.ctx.db, config: cfg });
        const b = new NotificationService({ db: s.berth.ctx.db, config: cfg });
        const sent = await Promise.all([a.deliverDue(), b.deliverDue(), a.deliverDue(), b.deliverDue()]);
        assert.equal(
          sent.reduce((x, y) => x + y, 0),
          1,
        );
        assert.equal(rx.of('/race').length, 1);
        assert.equal((await api(s, 'DELETE', `/repository/acme/app/notification/${n.uuid}`)).status, 204);
      } finally {
        s.berth.audit.notifications.start();
      }
    });

    test('vulnerability_found: a newly matched vulnerability arrives once, filtered by the minimum severity', async () => {
      const svc = s.berth.scanner!.service;
      const high = await create('acme/deb', {
        event: 'vulnerability_found',
        method: 'webhook',
        config: { url: `${rx.url}/high` },
        eventConfig: { level: 2 },
      }).catch(() => undefined);
      assert.equal(high, undefined, 'the repository does not exist yet');
      const digest = await pushLayers(s.url, 'acme/deb', 'v1', [await debianLayer()]);
      for (let st = await svc.status(digest); st.state !== 'indexed'; st = await svc.status(digest)) {
        assert.ok(st.state === 'queued' || st.state === 'indexing' || st.state === 'unknown', `scan state ${st.state}`);
        await new Promise((r) => setImmediate(r));
      }
      const atHigh = await create('acme/deb', {
        event: 'vulnerability_found',
        method: 'webhook',
        config: { url: `${rx.url}/high` },
        eventConfig: { level: 2 },
      });
      await create('acme/deb', {
        event: 'vulnerability_found',
        method: 'webhook',
        config: { url: `${rx.url}/critical` },
        eventConfig: { level: 'Critical' },
      });
      await create('acme/deb', { event: 'vulnerability_found', method: 'slack', config: { url: `${rx.url}/vslack` } });
      // New advisory data: libfoo is affected by a High and a Critical vulnerability (libbar's Low is fixed in its version).
      await importDebianAdvisories(s.berth.ctx.db, s.berth.ctx.dialect);
      await svc.rematchAll();
      const highs = await rx.until('/high', 2);
      const crits = await rx.until('/critical', 1);
      await rx.until('/vslack', 2);
      const byId = Object.fromEntries(highs.map((h) => [h.json.vulnerability.id, h.json]));
      assert.deepEqual(Object.keys(byId).sort(), ['CVE-2099-0001', 'CVE-2099-0002']);
      const c = byId['CVE-2099-0002'];
      assert.deepEqual(
        {
          repository: c.repository,
          namespace: c.namespace,
          name: c.name,
          tags: c.tags,
          image: c.image,
          id: c.vulnerability.id,
          priority: c.vulnerability.priority,
          has_fix: c.vulnerability.has_fix,
          description: c.vulnerability.description,
        },
        {
          repository: 'acme/deb',
          namespace: 'acme',
          name: 'deb',
          tags: ['v1'],
          image: digest,
          id: 'CVE-2099-0002',
          priority: 'Critical',
          has_fix: true,
          description: 'CVE-2099-0002 in libfoo',
        },
      );
      assert.equal(byId['CVE-2099-0001'].vulnerability.priority, 'High');
      assert.deepEqual(
        crits.map((x) => x.json.vulnerability.id),
        ['CVE-2099-0002'],
        'level Critical filters out the High one',
      );
      assert.equal(highs[0].headers['x-berth-signature'], sign(atHigh.signing_secret, highs[0].body));
      assert.ok(
        rx
          .of('/vslack')
          .some(
            (x) =>
              x.json.text === 'Critical vulnerability detected in repository acme/deb in 1 tags' &&
              x.json.attachments[0].color === 'danger',
          ),
      );
      // Re-matching again finds nothing new, and another replica reporting the same change queues nothing.
      await svc.rematchAll();
      const again = await s.berth.audit.notifications.vulnerabilitiesFound([
        {
          manifest: digest,
          removed: [],
          added: [
            {
              key: 'k',
              id: 'CVE-2099-0002',
              severity: 'Critical',
              package: 'libfoo',
              version: '1.0-1',
              fixedIn: '1.1-1',
              description: 'x',
              links: [],
              ecosystem: 'dpkg',
            },
          ],
        },
      ]);
      assert.equal(again, 0);
      assert.equal(await pass(), 0);
      assert.deepEqual([rx.of('/high').length, rx.of('/critical').length, rx.of('/vslack').length], [2, 1, 2]);
    });
  });
}
