// Directory fsyncs shared between concurrent callers: a caller that created or linked an entry needs one
// fsync of the directory that starts after its change; callers that arrive while one is in flight share
// the next. The fsync runs on libuv's thread pool, never on the event loop; opening and closing a directory that is
// not kept open are made on the calling thread (fd-calls.ts: no I/O, a thread-pool round trip each fewer).
import { closeFd, closeNow, fsyncFd, openDirNow, openFd } from './fd-calls.js';

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
  private readonly kept = new Map<string, number>();
  /** fsync calls made (diagnostics and tests). */
  syncs = 0;

  /** Opens `dir` once and syncs it through that descriptor from now on (until `close`). */
  async keepOpen(dir: string): Promise<void> {
    if (this.kept.has(dir)) return;
    const fd = await openFd(dir, 'r');
    if (this.kept.has(dir)) await closeFd(fd);
    else this.kept.set(dir, fd);
  }

  /**
   * Closes the kept descriptors once the syncs running through them have ended (a descriptor number closed under a
   * running fsync could name another file by then); later syncs open the directory each time again.
   */
  close(): void {
    const kept = [...this.kept];
    this.kept.clear();
    for (const [dir, fd] of kept) {
      const running = this.dirs.get(dir)?.inFlight ?? Promise.resolve();
      void running
        .catch(() => {})
        .then(() => closeFd(fd))
        .catch(() => {});
    }
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
    if (kept !== undefined) {
      await fsyncFd(kept);
      this.syncs++;
      return;
    }
    const fd = openDirNow(dir);
    try {
      await fsyncFd(fd);
      this.syncs++;
    } finally {
      closeNow(fd);
    }
  }
}
