// What the web UI tests share: Debian's Chromium through playwright-core (no downloaded browser), the built
// web UI (web/dist, rebuilt when a source is newer), a page with a default timeout, signing in through the
// sign-in form, and axe-core's serious and critical findings on a page.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
/** The skip reason of a browser test on a machine without Chromium, or false. */
export const noChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `SKIPPED: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)`;
/** axe-core's browser bundle, injected with addScriptTag (the page's context must bypass the CSP). */
export const AXE = path.resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js');

/** Builds web/dist when it is missing or older than a source file: the test server serves the built UI. */
export async function buildWebIfStale(): Promise<void> {
  const { webIsStale, buildWeb } = await import('../../scripts/build-web.mjs');
  if (webIsStale()) await buildWeb();
}

/** Debian's Chromium, headless, with no background network traffic, component updates or first-run pages. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** A page in a context of its own (its own cookies), every wait on it bounded by `timeoutMs`. */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}, timeoutMs = 10_000): Promise<Page> {
  const page = await (await browser.newContext(options)).newPage();
  page.setDefaultTimeout(timeoutMs);
  return page;
}

/** Signs in through the sign-in form at `baseUrl` and waits until the page says who is signed in. */
export async function signIn(page: Page, baseUrl: string, user: string, pass: string): Promise<void> {
  await page.goto(baseUrl);
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(pass);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
}

export interface AxeFinding {
  id: string;
  impact: string;
  help: string;
  /** The CSS selectors of the first `maxTargets` offending nodes. */
  targets: string[];
}

/** Injects axe-core into the page as it is now and returns its serious and critical violations. */
export async function seriousAxeViolations(page: Page, maxTargets = 5): Promise<AxeFinding[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async (max) => {
    const r = await (
      window as unknown as {
        axe: {
          run(
            d: Document,
            o: object,
          ): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }>;
        };
      }
    ).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.slice(0, max).map((n) => n.target.join(' ')),
    }));
  }, maxTargets);
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
