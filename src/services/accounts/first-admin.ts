// Creating the first administrator of a fresh install (the web UI's first-run screen). From the network it needs
// the one-time setup code `berth serve` shows on its console (setup-code.ts); from this machine (loopback) it is
// one step.
import type { AccountsContext } from './context.js';
import { AccountError } from './errors.js';
import { SetupCode } from './setup-code.js';
import type { UserService } from './users.js';

export interface FirstAdminInput {
  username: string;
  email?: string;
  password: string;
  setupCode?: string;
}

export class FirstAdminService {
  readonly code: SetupCode;

  constructor(
    private readonly ctx: AccountsContext,
    private readonly users: UserService,
    announce: (code: string, file: string) => void,
  ) {
    this.code = new SetupCode(ctx.config.dataDir, announce);
  }

  private async needsAdmin(): Promise<boolean> {
    return !this.ctx.auth.open && (await this.users.count()) === 0;
  }

  /** On start: while no user exists, make the setup code (shown on the console, written to its file). */
  async prepare(): Promise<void> {
    if (await this.needsAdmin()) this.code.current();
    else this.code.spend();
  }

  /** What the first-run screen shows: whether an administrator is needed, and whether this caller needs the code. */
  async state(local: boolean): Promise<{ needs_admin: boolean; needs_code: boolean; open: boolean }> {
    const needs = await this.needsAdmin();
    return { needs_admin: needs, needs_code: needs && !local, open: this.ctx.auth.open };
  }

  async create(input: FirstAdminInput, local: boolean): Promise<{ id: number; name: string }> {
    if (this.ctx.auth.open) throw new AccountError('conflict', 'accounts are off (AUTHENTICATION_TYPE: None)');
    if ((await this.users.count()) > 0) throw new AccountError('conflict', 'the first administrator already exists; sign in instead');
    if (!local) {
      const hint = `the setup code is on the console of \`berth serve\` and in ${this.code.file} on the server`;
      this.code.current(); // made now if the last user was removed after start
      if (!input.setupCode)
        throw new AccountError('forbidden', `creating the first administrator from the network needs the one-time setup code: ${hint}`);
      if (!this.code.matches(input.setupCode)) throw new AccountError('forbidden', `the setup code is not right: ${hint}`);
    }
    // Serialized by UserService: two first-run forms cannot both create a superuser.
    const user = await this.users.createFirstAdmin({ name: input.username, email: input.email || undefined, password: input.password });
    this.code.spend();
    return user;
  }
}
