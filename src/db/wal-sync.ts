// Group commit for SQLite: commits run with synchronous=NORMAL (the WAL is written, not fsync'd, on the event
// loop), and whoever acknowledges a write awaits `durable()`, which fdatasyncs the -wal file on libuv's thread
// pool. Every commit made before a sync starts is covered by it, so concurrent requests share one fdatasync.
// Why this keeps FULL's guarantee: docs/PERFORMANCE.md, "The commit path".
import { closeSync, fdatasync, fsync, openSync } from 'node:fs';
import path from 'node:path';

/** Observation points for tests; production code never sets them. */
export interface WalSyncHooks {
  /** Awaited on the thread-pool side of each sync, before its fdatasync (a test can hold a sync here). */
  beforeSync?: (seq: number) => Promise<void> | void;
  /** Called after each fdatasync with the commit sequence number it covered. */
  afterSync?: (seq: number) => void;
}

export class WalGroupSync {
  /** Commits seen so far (a commit is counted on the event loop, right after SQLite returns). */
  private committed = 0;
  /** The highest commit number known to be on disk. */
  private synced = 0;
  private inFlight: Promise<void> | undefined;
  private fd: number | undefined;
  private dirSynced = false;
  /** A failed fdatasync poisons the log: Linux may drop the dirty pages it could not write and report success next time. */
  private failed: Error | undefined;
  /** fdatasync calls made (for tests and diagnostics). */
  syncs = 0;
  hooks: WalSyncHooks = {};

  constructor(private readonly walFile: string) {}

  /** Records that a transaction (or an autocommit statement) committed. */
  noteCommit(): void {
    this.committed++;
  }

  /** The commit sequence number: every commit up to it is durable once `durable()` resolves. */
  get commitSeq(): number {
    return this.committed;
  }

  get syncedSeq(): number {
    return this.synced;
  }

  /**
   * Resolves once every commit made before the call is on disk. Joins a sync in flight only when that sync
   * covers this caller's commits; otherwise waits for it and starts the next one, which covers everything
   * committed meanwhile (the group).
   */
  async durable(): Promise<void> {
    const target = this.committed;
    while (this.synced < target) {
      if (this.failed) throw this.failed;
      if (!this.inFlight) {
        this.inFlight = this.syncOnce().finally(() => {
          this.inFlight = undefined;
        });
      }
      await this.inFlight;
    }
  }

  private async syncOnce(): Promise<void> {
    const covers = this.committed;
    await this.hooks.beforeSync?.(covers);
    const fd = this.open();
    if (!this.dirSynced) {
      // The -wal file was created by SQLite without a directory sync (NORMAL defers that to the first
      // checkpoint): make its directory entry durable once.
      await syncPath(path.dirname(this.walFile), fsync);
      this.dirSynced = true;
    }
    try {
      await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      this.failed = new Error(
        `fdatasync of ${this.walFile} failed; commits since the last sync may be lost, restart Berth: ${(e as Error).message}`,
      );
      throw this.failed;
    }
    this.syncs++;
    if (covers > this.synced) this.synced = covers;
    this.hooks.afterSync?.(covers);
  }

  private open(): number {
    // Opened once, after SQLite created the file (the first commit). fsync on Linux flushes the inode's dirty
    // pages whichever descriptor wrote them. SQLite keeps the -wal file while the database is open (it is reset
    // in place after a checkpoint, not deleted), so this descriptor stays on the right inode.
    this.fd ??= openSync(this.walFile, 'r');
    return this.fd;
  }

  /** Releases the descriptor (after the database was closed: SQLite then checkpoints and syncs itself). */
  release(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

function syncPath(p: string, how: typeof fsync): Promise<void> {
  const fd = openSync(p, 'r');
  return new Promise<void>((resolve, reject) =>
    how(fd, (e) => {
      closeSync(fd);
      if (e) reject(e);
      else resolve();
    }),
  );
}
