import assert from 'node:assert/strict';

/**
 * Waits for an observable condition instead of sleeping a guessed time: re-checks `cond` every
 * `interval` ms until it holds, and fails with `what` (and `detail()`, if given) after `timeout` ms.
 */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  opts: { what: string; timeout?: number; interval?: number; detail?: () => string },
): Promise<void> {
  const deadline = Date.now() + (opts.timeout ?? 10_000);
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${opts.what}${opts.detail ? `\n${opts.detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.interval ?? 20));
  }
}
