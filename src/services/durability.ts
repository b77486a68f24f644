// The one place an acknowledgement waits for durability: every write request's response (manifest PUT, blob
// upload POST/PATCH/PUT, tag and API writes) awaits this before it is sent, so what the client is told was
// stored survives a power cut. SQLite: the group fdatasync of the WAL (src/db/wal-sync.ts); PostgreSQL:
// nothing to wait for (a commit returns after the server flushed its WAL). Blob bytes are synced by the blob
// store before their row is committed, so they are covered by the same wait.
import type { ServiceContext } from './context.js';

export function writesDurable(ctx: Pick<ServiceContext, 'durable'>): Promise<void> {
  return ctx.durable ? ctx.durable() : Promise.resolve();
}
