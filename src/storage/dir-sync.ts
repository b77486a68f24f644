// Directory fsyncs shared between concurrent callers: a caller that created or linked an entry needs one
// fsync of the directory that starts after its change; callers that arrive while one is in flight share
// the next. On libuv's thread pool (fs.promises), never on the event loop.
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

interface DirState {
  changes: number;
  synced: number;
  inFlight?: Promise<void>;
}

export class DirSyncer {
  private readonly dirs = new Map<string, DirState>();
  /**
   * Directories whose descriptor stays open (`keepOpen`): their fsync is one thread-pool call instead of three
   * (open, fsync, close). Only for a directory that lives as long as the store (uploads/), never for one that can
   * be removed and made again (the fan-out directories gc empties): a kept descriptor would sync the removed one.
   */
  private readonly kept = new Map<string, FileHandle>();
  /** fsync calls made (diagnostics and tests). */
  syncs = 0;

  /** Opens `dir` once and syncs it through that descriptor from now on (until `close`). */
  async keepOpen(dir: string): Promise<void> {
    if (this.kept.has(dir)) return;
    const dh = await fs.open(dir, 'r');
    if (this.kept.has(dir)) await dh.close();
    else this.kept.set(dir, dh);
  }

  /** Closes the kept descriptors; later syncs open the directory each time again. */
  close(): void {
    const handles = [...this.kept.values()];
    this.kept.clear();
    for (const dh of handles) void dh.close().catch(() => {});
  }

  /** Resolves once `dir` was fsync'd after the call began (so entries made before the call are durable). */
  async sync(dir: string): Promise<void> {
    let st = this.dirs.get(dir);
    if (!st) {
      st = { changes: 0, synced: 0 };
      this.dirs.set(dir, st);
    }
    const target = ++st.changes;
    try {
      while (st.synced < target) {
        if (!st.inFlight) {
          const covers = st.changes;
          const s = st;
          st.inFlight = this.syncOnce(dir)
            .then(() => {
              if (covers > s.synced) s.synced = covers;
            })
            .finally(() => {
              s.inFlight = undefined;
            });
        }
        await st.inFlight;
      }
    } finally {
      // Forget idle directories (there are up to 256 fan-out directories per algorithm).
      if (!st.inFlight && st.synced >= st.changes) this.dirs.delete(dir);
    }
  }

  private async syncOnce(dir: string): Promise<void> {
    const kept = this.kept.get(dir);
    if (kept) {
      await kept.sync();
      this.syncs++;
      return;
    }
    const dh = await fs.open(dir, 'r');
    try {
      await dh.sync();
      this.syncs++;
    } finally {
      await dh.close();
    }
  }
}
