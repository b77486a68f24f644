// The shared fixtures live in ../shared beside the checkout (every CI job and session has it there).
// There is no other place to look: a test that needs them is skipped, with this reason, when the
// directory is missing, so the run's skip list says what was not covered.
import { existsSync, readFileSync } from 'node:fs';
import { test as nodeTest, type TestContext, type TestOptions } from 'node:test';
import path from 'node:path';

type TestFn = (t: TestContext) => void | Promise<void>;

export const SHARED_FIXTURES = path.resolve(import.meta.dirname, '../../../shared/fixtures');

/** `false` when ../shared/fixtures is there, else the skip reason for `test(name, { skip }, fn)`. */
export const sharedSkip: string | false = existsSync(SHARED_FIXTURES)
  ? false
  : `the shared fixtures are missing: ${SHARED_FIXTURES} (clone ../shared beside the checkout)`;

/** A file under ../shared/fixtures. */
export const sharedFixture = (...parts: string[]): string => path.join(SHARED_FIXTURES, ...parts);

/**
 * node:test's `test`, skipped (and counted, with the reason) when ../shared is missing: for files
 * whose every test stands on the shared fixtures.
 */
export function testShared(name: string, optsOrFn: TestOptions | TestFn, maybeFn?: TestFn): Promise<void> {
  const opts = typeof optsOrFn === 'function' ? {} : optsOrFn;
  const fn = typeof optsOrFn === 'function' ? optsOrFn : maybeFn;
  return nodeTest(name, { ...opts, skip: sharedSkip || opts.skip }, fn);
}

/** A shared fixture's bytes for set-up hooks; empty when ../shared is missing (the tests then skip). */
export const readShared = (file: string): Buffer => (sharedSkip ? Buffer.alloc(0) : readFileSync(file));
