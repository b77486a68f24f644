// The shared fixtures live in ../shared beside the checkout (every CI job and session has it there).
// There is no other place to look: a test that needs them is skipped, with this reason, when the
// directory is missing, so the run's skip list says what was not covered.
import { existsSync } from 'node:fs';
import path from 'node:path';

export const SHARED_FIXTURES = path.resolve(import.meta.dirname, '../../../shared/fixtures');

/** `false` when ../shared/fixtures is there, else the skip reason for `test(name, { skip }, fn)`. */
export const sharedSkip: string | false = existsSync(SHARED_FIXTURES)
  ? false
  : `the shared fixtures are missing: ${SHARED_FIXTURES} (clone ../shared beside the checkout)`;

/** A file under ../shared/fixtures. */
export const sharedFixture = (...parts: string[]): string => path.join(SHARED_FIXTURES, ...parts);
