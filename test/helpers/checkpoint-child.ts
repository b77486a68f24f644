// Child process for test/sqlite-checkpoint.test.ts: commits rows from 8 concurrent writers on a database whose
// checkpoints run often in the background, and prints "ack <id>" only after durable() resolved for a row
// (what Berth's acknowledgement waits for), and "ckpt <n> <frames copied>" after each background checkpoint. The parent SIGKILLs it.
import { sql } from 'kysely';
import { openDatabase } from '../../src/db/database.ts';

const file = process.argv[2]!;
const database = await openDatabase({
  kind: 'sqlite',
  file,
  checkpoint: { triggerBytes: 64 * 1024, limitBytes: 16 * 1024 * 1024, intervalMs: 50 },
});
const { db } = database;
await sql`CREATE TABLE IF NOT EXISTS ck_rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)`.execute(db);
database.checkpointer!.onCheckpoint = (r) => process.stdout.write(`ckpt ${database.checkpointer!.checkpoints} ${r.checkpointed}\n`);
let next = 1;
const body = Buffer.alloc(3000, 7);
async function writer(): Promise<never> {
  for (;;) {
    const id = next++;
    await sql`INSERT INTO ck_rows (id, body) VALUES (${id}, ${body})`.execute(db);
    await database.durable();
    process.stdout.write(`ack ${id}\n`);
  }
}
process.stdout.write('ready\n');
await Promise.all(Array.from({ length: 8 }, writer));
