import { loadConfig } from "../config/load.js";
import { openContext } from "../server.js";
import { buildAccountServices } from "../services/accounts/index.js";
import { AccountError } from "../services/accounts/errors.js";
async function readStdin() {
  const chunks = [];
  let total = 0;
  for await (const c of process.stdin) {
    total += c.length;
    if (total > 4096) throw new Error("the password on stdin is too long");
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}
async function createUser(name, o) {
  if (!o.passwordStdin) throw new Error("give the password on standard input with --password-stdin (it is never taken from the command line)");
  const config = loadConfig({ file: o.config, data: o.data });
  const password = await readStdin();
  const { ctx, database } = await openContext(config);
  try {
    const accounts = buildAccountServices(ctx);
    await accounts.users.create({ name, email: o.email, password, superuser: o.superuser });
    process.stdout.write(`created user ${name}${o.superuser ? " (superuser)" : ""}
`);
  } catch (e) {
    if (e instanceof AccountError) throw new Error(e.message);
    throw e;
  } finally {
    await database.close();
  }
}
export {
  createUser
};
//# sourceMappingURL=admin.js.map
