// berth admin create-user NAME --password-stdin [--superuser] [--email E]: never prints or logs the password.
import { loadConfig } from '../config/load.js';
import { openContext } from '../server.js';
import { buildAccountServices } from '../services/accounts/index.js';
import { AccountError } from '../services/accounts/errors.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const c of process.stdin) {
    total += (c as Buffer).length;
    if (total > 4096) throw new Error('the password on stdin is too long');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function createUser(
  name: string,
  o: { config?: string; data?: string; passwordStdin?: boolean; superuser?: boolean; email?: string },
): Promise<void> {
  if (!o.passwordStdin)
    throw new Error('give the password on standard input with --password-stdin (it is never taken from the command line)');
  const config = loadConfig({ file: o.config, data: o.data });
  const password = await readStdin();
  const { ctx, database } = await openContext(config);
  try {
    const accounts = buildAccountServices(ctx);
    await accounts.users.create({ name, email: o.email, password, superuser: o.superuser });
    process.stdout.write(`created user ${name}${o.superuser ? ' (superuser)' : ''}\n`);
  } catch (e) {
    if (e instanceof AccountError) throw new Error(e.message);
    throw e;
  } finally {
    await database.close();
  }
}
