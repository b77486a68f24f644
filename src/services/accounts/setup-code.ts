// The one-time setup code that guards "create the first administrator" from the network (as Jenkins does):
// made on start while no user exists, shown on the server's console and written to <DATA_DIR>/setup-code
// (mode 0600, readable only by the server's user); spent when the first administrator is created.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomToken, safeEqual } from '../../crypto/index.js';

export const SETUP_CODE_FILE = 'setup-code';

export class SetupCode {
  private code?: string;
  readonly file: string;

  /** `announce` tells the operator a new code (the console of `berth serve`, else the log). */
  constructor(
    dataDir: string,
    private readonly announce: (code: string, file: string) => void,
  ) {
    this.file = path.join(dataDir, SETUP_CODE_FILE);
  }

  /** The current code, made (and announced) when there is none. */
  current(): string {
    if (this.code) return this.code;
    const code = Buffer.from(randomToken(16), 'base64url').toString('hex');
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    // Never through an existing file (another owner, a symlink): remove it, then create it new with mode 0600.
    rmSync(this.file, { force: true });
    writeFileSync(this.file, `${code}\n`, { mode: 0o600, flag: 'wx' });
    this.code = code;
    this.announce(code, this.file);
    return code;
  }

  /** True when `given` is the current code (compared in constant time). */
  matches(given: string | undefined): boolean {
    return !!this.code && typeof given === 'string' && given.length === this.code.length && safeEqual(given.toLowerCase(), this.code);
  }

  /** The first administrator exists: the code is void and its file removed. */
  spend(): void {
    this.code = undefined;
    rmSync(this.file, { force: true });
  }
}
