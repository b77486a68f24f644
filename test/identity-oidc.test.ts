// OpenID Connect sign-in against a real OpenID provider (the npm package oidc-provider, in this process on a
// loopback port, PKCE required), driven through Debian's Chromium (playwright-core, no downloaded browser):
// the "Sign in with …" button, the provider's login and consent pages, back to Berth signed in; team membership
// from the group claim (in and out); an app token for CLI access; a tampered state, a reused callback, a code
// used twice and an expired code refused with the reason shown on the sign-in page. Requests to any address but
// 127.0.0.1 are blocked in the browser (the provider's dev pages name a web font).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { freePort, startServer, type TestServer } from './helpers/server.ts';
import { testDialects } from './helpers/databases.ts';
import { api, registryToken } from './helpers/accounts.ts';
import { validateConfig } from '../src/config/load.ts';
import { buildWebIfStale, launchChromium, noChromium } from './helpers/ui.ts';

const skip = noChromium;
const ADMIN: [string, string] = ['admin', 'local-admin-pw-1'];
const GROUPS: Record<string, string[]> = { ann: ['devs', 'everyone'], ben: ['everyone'] };

let browser: Browser;
// oidc-provider ships no type declarations.
const { default: Provider } = (await import('oidc-provider' as string)) as {
  default: new (issuer: string, config: unknown) => { callback(): http.RequestListener };
};

/** While `on`, the provider's redirect back to Berth is held: its URL is kept and the browser gets a page instead. */
interface Hold {
  on: boolean;
  captured?: string;
}

async function startProvider(
  port: number,
  redirectUri: string,
  codeTtl: { seconds: number },
  hold: Hold,
): Promise<{ issuer: string; close(): Promise<void> }> {
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'berth',
        client_secret: 'berth-client-secret',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        id_token_signed_response_alg: 'RS256',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username'], email: ['email', 'email_verified'], groups: ['groups'] },
    // biome-ignore lint/correctness/noComponentHookFactories: AuthorizationCode is oidc-provider's TTL setting, not a React component
    ttl: { AuthorizationCode: () => codeTtl.seconds },
    async findAccount(_ctx: unknown, sub: string) {
      return {
        accountId: sub,
        async claims() {
          return { sub, preferred_username: sub, email: `${sub}@example.com`, email_verified: true, groups: GROUPS[sub] ?? [] };
        },
      };
    },
  });
  const handler = provider.callback();
  const server = http.createServer((req, res) => {
    const end = res.end.bind(res) as (...a: unknown[]) => http.ServerResponse;
    (res as any).end = (...args: unknown[]) => {
      const location = res.getHeader('location');
      if (hold.on && typeof location === 'string' && location.startsWith(redirectUri) && !res.headersSent) {
        hold.captured = location;
        res.statusCode = 200;
        res.removeHeader('location');
        res.setHeader('content-type', 'text/plain');
        res.removeHeader('content-length');
        return end('held by the test');
      }
      return end(...args);
    };
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    issuer,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A fresh browser context (no provider session) that can reach only 127.0.0.1. */
async function newPage(): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext();
  await ctx.route('**/*', (route) => (new URL(route.request().url()).hostname === '127.0.0.1' ? route.continue() : route.abort()));
  const page = await ctx.newPage();
  page.setDefaultTimeout(15_000);
  return { ctx, page };
}

/** The provider's dev login and consent pages. */
async function providerLogin(page: Page, user: string): Promise<void> {
  await page.locator('input[name=login]').fill(user);
  await page.locator('input[name=password]').fill('any-password');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Signs in through the UI button up to the provider's redirect back; returns the callback URL without following it. */
async function captureCallback(page: Page, s: TestServer, hold: Hold, user: string): Promise<string> {
  hold.on = true;
  hold.captured = undefined;
  try {
    await page.goto(`${s.url}/`);
    await page.getByRole('link', { name: 'Sign in with Example SSO' }).click();
    await providerLogin(page, user);
    await page.getByText('held by the test').waitFor();
  } finally {
    hold.on = false;
  }
  assert.ok(hold.captured, 'the provider redirected back to the callback');
  return hold.captured;
}

async function sessionUser(ctx: BrowserContext, s: TestServer): Promise<any> {
  const r = await ctx.request.get(`${s.url}/api/v1/user/`);
  return { status: r.status(), json: r.status() === 200 ? await r.json() : undefined };
}

test('OIDC login blocks are checked at start: required keys, the openid scope, https, distinct ids', () => {
  const problems = (doc: Record<string, unknown>) => validateConfig(doc).problems;
  assert.deepEqual(problems({ OIDC_LOGIN_CONFIG: { OIDC_SERVER: 'https://sso.example.com/', CLIENT_ID: 'a' } }), [
    'OIDC_LOGIN_CONFIG.CLIENT_SECRET: required',
  ]);
  assert.deepEqual(
    problems({
      OIDC_LOGIN_CONFIG: { OIDC_SERVER: 'https://sso.example.com/', CLIENT_ID: 'a', CLIENT_SECRET: 'b', LOGIN_SCOPES: ['profile'] },
    }),
    ['OIDC_LOGIN_CONFIG.LOGIN_SCOPES: must include openid'],
  );
  assert.deepEqual(problems({ CORP_LOGIN_CONFIG: { OIDC_SERVER: 'http://sso.example.com/', CLIENT_ID: 'a', CLIENT_SECRET: 'b' } }), [
    'CORP_LOGIN_CONFIG.OIDC_SERVER: must be https (plain http only for a loopback address or with DEBUGGING: true)',
  ]);
  assert.deepEqual(problems({ CORP_LOGIN_CONFIG: { OIDC_SERVER: 'http://127.0.0.1:8080/', CLIENT_ID: 'a', CLIENT_SECRET: 'b' } }), []);
  assert.deepEqual(
    problems({
      CORP_LOGIN_CONFIG: {
        OIDC_SERVER: 'https://sso.example.com/',
        CLIENT_ID: 'a',
        CLIENT_SECRET: 'b',
        ID_TOKEN_SIGNING_ALGORITHM: 'HS256',
      },
    }).length,
    1,
  );
  // Quay's GitHub and Google blocks are not OpenID blocks: left alone.
  assert.deepEqual(problems({ GITHUB_LOGIN_CONFIG: { CLIENT_ID: 'a' } }), []);
});

before(async () => {
  if (skip) return;
  await buildWebIfStale();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

for (const dialect of await testDialects()) {
  describe(`OpenID Connect sign-in with oidc-provider and Chromium (${dialect})`, () => {
    let s: TestServer;
    let op: Awaited<ReturnType<typeof startProvider>>;
    const codeTtl = { seconds: 60 };
    const hold: Hold = { on: false };
    before(async () => {
      if (skip) return; // the tests are skipped, with the reason
      const port = await freePort();
      s = await startServer(
        dialect,
        {},
        {
          auth: true,
          config: {
            BOOTSTRAP_ADMIN: { username: ADMIN[0], password: ADMIN[1] },
            FEATURE_TEAM_SYNCING: true,
            OIDC_LOGIN_CONFIG: {
              OIDC_SERVER: `http://127.0.0.1:${port}/`,
              CLIENT_ID: 'berth',
              CLIENT_SECRET: 'berth-client-secret',
              SERVICE_NAME: 'Example SSO',
              LOGIN_SCOPES: ['openid', 'profile', 'email', 'groups'],
              PREFERRED_GROUP_CLAIM_NAME: 'groups',
            },
            // A second provider that is not running: its button leads to a clear error.
            BROKEN_LOGIN_CONFIG: {
              OIDC_SERVER: `http://127.0.0.1:${await freePort()}/`,
              CLIENT_ID: 'x',
              CLIENT_SECRET: 'y',
              SERVICE_NAME: 'Broken SSO',
            },
          },
        },
      );
      op = await startProvider(port, `${s.url}/oauth2/oidc/callback`, codeTtl, hold);
      assert.equal((await api(s, 'POST', '/organization/', ADMIN, { name: 'acme' })).status, 201);
      assert.equal((await api(s, 'PUT', '/organization/acme/team/devs', ADMIN, { role: 'creator' })).status, 200);
      // Two providers: the link names one (Quay's body has only the group; "service" picks the provider).
      const ambiguous = await api(s, 'POST', '/organization/acme/team/devs/syncing', ADMIN, { group_name: 'devs' });
      assert.equal(ambiguous.status, 400);
      assert.match(ambiguous.json.detail, /name the provider in "service" \(one of oidc, broken\)/);
      const linked = await api(s, 'POST', '/organization/acme/team/devs/syncing', ADMIN, { group_name: 'devs', service: 'oidc' });
      assert.equal(linked.status, 200, JSON.stringify(linked.json));
      assert.equal(linked.json.service, 'oidc:oidc');
    });
    after(async () => {
      await s?.stop();
      await op?.close();
    });

    test('sign in with the button; the team follows the group claim; an app token gives CLI access', { skip: skip }, async () => {
      const setup = await api(s, 'GET', '/setup');
      assert.deepEqual(setup.json.external_login, [
        { id: 'oidc', title: 'Example SSO', url: '/oauth2/oidc/start' },
        { id: 'broken', title: 'Broken SSO', url: '/oauth2/broken/start' },
      ]);
      const { ctx, page } = await newPage();
      try {
        await page.goto(`${s.url}/`);
        await page.getByRole('link', { name: 'Sign in with Example SSO' }).click();
        assert.equal(new URL(page.url()).port, new URL(op.issuer).port, 'at the provider');
        const authorize = new URL(page.url());
        await providerLogin(page, 'ann');
        await page.waitForURL(`${s.url}/`);
        await page.getByRole('button', { name: /sign out/i }).waitFor();
        const me = await sessionUser(ctx, s);
        assert.equal(me.status, 200);
        assert.equal(me.json.username, 'ann');
        assert.equal(me.json.email, 'ann@example.com');
        assert.ok(authorize.pathname.length > 0);
        const members = await api(s, 'GET', '/organization/acme/team/devs/members', ADMIN);
        assert.deepEqual(
          members.json.members.map((m: any) => m.name),
          ['ann'],
        );
        assert.equal(members.json.synced.config.group_name, 'devs');
        // CLI access: an app token made in the signed-in session.
        const tok = await ctx.request.post(`${s.url}/api/v1/user/apptoken`, {
          data: { title: 'laptop' },
          headers: { 'x-csrf-token': me.json.csrf_token },
        });
        assert.equal(tok.status(), 200);
        const code = (await tok.json()).token.token_code as string;
        const reg = await registryToken(s, ['repository:acme/app:pull,push'], ['$app', code]);
        assert.equal(reg.status, 200);
        assert.deepEqual(reg.access, [{ type: 'repository', name: 'acme/app', actions: ['pull', 'push'] }]);
        // An OIDC user has no password: Basic with any password is refused.
        assert.equal((await registryToken(s, ['repository:acme/app:pull'], ['ann', 'any-password'])).status, 401);
      } finally {
        await ctx.close();
      }
      // ann leaves the group at the provider: the next sign-in takes her out of the team.
      GROUPS.ann = ['everyone'];
      const again = await newPage();
      try {
        await again.page.goto(`${s.url}/`);
        await again.page.getByRole('link', { name: 'Sign in with Example SSO' }).click();
        await providerLogin(again.page, 'ann');
        await again.page.waitForURL(`${s.url}/`);
        assert.equal((await sessionUser(again.ctx, s)).json.username, 'ann');
      } finally {
        await again.ctx.close();
      }
      assert.deepEqual((await api(s, 'GET', '/organization/acme/team/devs/members', ADMIN)).json.members, []);
      GROUPS.ann = ['devs', 'everyone'];
    });

    test('a tampered state, a replayed callback and a code used twice are refused; the sign-in page says why', { skip: skip }, async () => {
      const { ctx, page } = await newPage();
      try {
        const url = await captureCallback(page, s, hold, 'ben');
        const tampered = new URL(url);
        tampered.searchParams.set('state', `${tampered.searchParams.get('state')!.slice(0, -2)}xx`);
        await page.goto(tampered.href);
        await page.waitForURL(/signin_error=/);
        await page.getByRole('alert').filter({ hasText: 'Sign-in failed: the sign-in state does not match this browser' }).waitFor();
        assert.equal((await sessionUser(ctx, s)).status, 401);
        // The untampered callback still works once…
        await page.goto(url);
        await page.waitForURL(`${s.url}/`);
        assert.equal((await sessionUser(ctx, s)).json.username, 'ben');
        // …and not twice: signed out, a replay is refused for the missing state cookie, and with the cookie copied
        // back in (an attacker with both) because the sign-in was used up on the server.
        const me = await sessionUser(ctx, s);
        assert.equal(
          (await ctx.request.post(`${s.url}/api/v1/signout`, { headers: { 'x-csrf-token': me.json.csrf_token } })).status(),
          200,
        );
        await page.goto(url);
        await page.waitForURL(/signin_error=/);
        await page
          .getByRole('alert')
          .filter({ hasText: /state does not match/ })
          .waitFor();
        await ctx.addCookies([
          {
            name: 'berth_oidc_state',
            value: new URL(url).searchParams.get('state')!,
            domain: '127.0.0.1',
            path: '/oauth2/oidc/',
            httpOnly: true,
            sameSite: 'Lax',
          },
        ]);
        await page.goto(url);
        await page.waitForURL(/signin_error=/);
        await page
          .getByRole('alert')
          .filter({ hasText: /already used or is unknown/ })
          .waitFor();
        // A new sign-in with the old code: the state is fresh, the provider refuses the used code.
        await ctx.clearCookies();
        const fresh = new URL(await captureCallback(page, s, hold, 'ben'));
        fresh.searchParams.set('code', new URL(url).searchParams.get('code')!);
        await page.goto(fresh.href);
        await page.waitForURL(/signin_error=/);
        await page
          .getByRole('alert')
          .filter({ hasText: /the OpenID provider did not accept the sign-in: invalid_grant/ })
          .waitFor();
        assert.equal((await sessionUser(ctx, s)).status, 401);
      } finally {
        await ctx.close();
      }
      // The audit log has the OIDC sign-ins: ben's success with him as performer, and the refusals with their reason.
      let logs: any[] = [];
      for (let i = 0; i < 50; i++) {
        logs = (await api(s, 'GET', '/superuser/logs', ADMIN)).json.logs.filter((l: any) => l.metadata?.type === 'oauth');
        if (logs.some((l) => l.kind === 'login_failure' && /invalid_grant/.test(l.metadata.message))) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(
        logs.some((l) => l.kind === 'login_success' && l.performer?.name === 'ben' && l.metadata.service === 'oidc'),
        JSON.stringify(logs),
      );
      for (const why of [/state does not match/, /already used/, /invalid_grant/]) {
        assert.ok(
          logs.some((l) => l.kind === 'login_failure' && why.test(l.metadata.message)),
          `${why} in ${JSON.stringify(logs)}`,
        );
      }
    });

    test('an expired authorization code is refused', { skip: skip }, async () => {
      const { ctx, page } = await newPage();
      codeTtl.seconds = 1;
      try {
        const url = await captureCallback(page, s, hold, 'ben');
        // The code lives one second at the provider, which counts whole seconds: 2.1 s is the least wait that is sure
        // to be past it (the provider's clock cannot be moved from here).
        await new Promise((r) => setTimeout(r, 2100));
        await page.goto(url);
        await page.waitForURL(/signin_error=/);
        await page
          .getByRole('alert')
          .filter({ hasText: /did not accept the sign-in: invalid_grant/ })
          .waitFor();
        assert.equal((await sessionUser(ctx, s)).status, 401);
      } finally {
        codeTtl.seconds = 60;
        await ctx.close();
      }
    });

    test('a provider that cannot be reached: a clear error on the sign-in page; the local superuser still signs in', {
      skip: skip,
    }, async () => {
      const { ctx, page } = await newPage();
      try {
        await page.goto(`${s.url}/`);
        await page.getByRole('link', { name: 'Sign in with Broken SSO' }).click();
        await page.waitForURL(/signin_error=/);
        await page
          .getByRole('alert')
          .filter({ hasText: /Sign-in failed: the OpenID provider http:\/\/127\.0\.0\.1:\d+\/ cannot be used/ })
          .waitFor();
        await page.getByLabel('Username').fill(ADMIN[0]);
        await page.getByLabel('Password').fill(ADMIN[1]);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('button', { name: /sign out/i }).waitFor();
        assert.equal((await sessionUser(ctx, s)).json.username, 'admin');
        const unknown = await fetch(`${s.url}/oauth2/nope/start`, { redirect: 'manual' });
        assert.equal(unknown.status, 404);
      } finally {
        await ctx.close();
      }
    });
  });
}
