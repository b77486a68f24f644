// The first superuser, created on start from BOOTSTRAP_ADMIN when no user exists yet.
import { readFileSync } from 'node:fs';
import type { AccountsContext } from './context.js';
import type { UserService } from './users.js';

export async function bootstrapAdmin(ctx: AccountsContext, users: UserService): Promise<string | undefined> {
  const b = ctx.config.raw.BOOTSTRAP_ADMIN;
  if (!b || ctx.auth.open) return undefined;
  if ((await users.count()) > 0) return undefined;
  const password = b.password ?? readFileSync(b.password_file!, 'utf8').replace(/\r?\n$/, '');
  await users.create({ name: b.username, email: b.email, password, superuser: true });
  return b.username;
}
