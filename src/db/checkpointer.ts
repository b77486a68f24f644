// SQLite checkpoints without blocking the event loop on a sync, and without a thread of their own. The main
// connection runs with wal_autocheckpoint=0. When `triggerBytes` of WAL frames are not yet in the database (and on a
// timer), a checkpoint runs on the event loop in five steps, two of them waits on libuv's thread pool:
//
//   1. a reader connection begins a read transaction: its snapshot ends at the log's last frame M. While it is open
//      no writer can start the log over (SQLite only restarts a log no reader is using), so frames ≤ M stay in the
//      -wal file whatever happens in the database file;
//   2. `durable()`: the group fdatasync of the WAL (./wal-sync.ts) covers every frame ≤ M (joining the sync in
//      flight when it covers them, else the next one);
//   3. a copier connection with synchronous=OFF runs PRAGMA wal_checkpoint(PASSIVE): it copies frames ≤ M (no
//      further: the reader's mark bounds it) into the database file through the page cache, without a sync;
//   4. fdatasync of the database file on the thread pool;
//   5. the read transaction ends.
//
// A power cut before step 4 completes finds every copied page also in the synced WAL, which recovery reads again;
// after it the pages are in the database file on disk before any writer can overwrite their frames. A writer that
// never pauses keeps the log growing (SQLite starts it over only when a commit finds every frame copied and no
// reader): when it holds half of `limitBytes`, the same steps run with the database to the checkpointer alone
// (`exclusive`: no statement of the main connection runs in between), then TRUNCATE, which has nothing left to copy,
// empties the -wal file. If the log reaches `limitBytes` anyway, the main connection checkpoints in the foreground,
// with a warning. Why acknowledged writes survive: docs/PERFORMANCE.md, "The commit path".
//
// Until 2026-12 a worker thread with its own connection did steps 3-4 with synchronous=NORMAL; its isolate cost
// 8-10 MiB of resident memory (docs/PERFORMANCE.md, "Memory, seventh round").
import { closeSync, fdatasync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import SQLite from 'better-sqlite3';
import type { WalGroupSync } from './wal-sync.js';

export interface CheckpointSettings {
  /** Checkpoint when this many bytes of WAL frames are not in the database yet (default 4 MiB). */
  triggerBytes: number;
  /**
   * Checkpoint in the foreground when the log holds this many bytes of frames (default 64 MiB). A log that holds half
   * of this is emptied (TRUNCATE) after a checkpoint with the database held; shorter logs start over whenever the
   * commits pause.
   */
  limitBytes: number;
  /** Also checkpoint every this many ms when anything was committed since the last checkpoint (default 1000). */
  intervalMs: number;
}

export const CHECKPOINT_DEFAULTS: CheckpointSettings = {
  triggerBytes: 4 * 1024 * 1024,
  limitBytes: 64 * 1024 * 1024,
  intervalMs: 1000,
};

/** One checkpoint's outcome (PRAGMA wal_checkpoint's row, plus what followed it). */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
  /** TRUNCATE succeeded: the next commit starts the log over. */
  restarted: boolean;
  truncated: boolean;
  /** The copy's time on the event loop (step 3, and the TRUNCATE), ms. */
  copyMs: number;
  /** Steps 1-5 from start to end, ms. */
  ms: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';

export class WalCheckpointer {
  /** Checkpoints completed in the background (steps 1-5). */
  checkpoints = 0;
  /** Of those, how many also emptied the log (TRUNCATE). */
  restarts = 0;
  truncations = 0;
  /** Checkpoints run on the main connection because the WAL reached `limitBytes`. */
  foreground = 0;
  /** The last background checkpoint's result (tests, diagnostics). */
  last: CheckpointResult | undefined;
  /** Called after each background checkpoint (tests). */
  onCheckpoint: ((r: CheckpointResult) => void) | undefined;
  /**
   * Runs `fn` with the database to the checkpointer alone: no statement of the main connection starts until it
   * settles (openDatabase passes Kysely's connection lock). Without it the log is emptied only when commits pause.
   */
  exclusive: (<T>(fn: () => Promise<T>) => Promise<T>) | undefined;

  private reader: SQLite.Database | undefined;
  private copier: SQLite.Database | undefined;
  private beginRead: SQLite.Statement | undefined;
  private running = false;
  /** Steps 1-5 are under way: the reader's read transaction is open. */
  private reading = false;
  private wanted = false;
  private stopped = false;
  private commitsSince = 0;
  private lastForeground = 0;
  private shmFd: number | undefined;
  private dbFd: number | undefined;
  private readonly header = Buffer.alloc(100);
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;

  constructor(
    private readonly file: string,
    private readonly sqlite: SQLite.Database,
    readonly settings: CheckpointSettings,
    /** The group fdatasync of the WAL. */
    private readonly wal: Pick<WalGroupSync, 'durable'>,
    private readonly warn: (message: string) => void = (m) => process.emitWarning(m, 'BerthCheckpoint'),
  ) {}

  start(): void {
    this.sqlite.pragma('wal_autocheckpoint = 0');
    const open = (): SQLite.Database => {
      const c = new SQLite(this.file, { fileMustExist: true });
      // Never wait on the main connection's locks: a busy step is retried at the next checkpoint.
      c.pragma('busy_timeout = 0');
      c.pragma('wal_autocheckpoint = 0');
      // Neither connection reads more than the schema's first page: a page cache of its own is not needed.
      c.pragma('cache_size = 8');
      return c;
    };
    this.reader = open();
    this.copier = open();
    // The copy is not synced by SQLite: step 4 syncs the database file, step 2 the WAL before it (see the top).
    this.copier.pragma('synchronous = OFF');
    this.beginRead = this.reader.prepare('SELECT 1 FROM sqlite_schema LIMIT 1');
    this.dbFd = openSync(this.file, 'r');
    this.timer = setInterval(() => {
      if (this.commitsSince > 0) this.request();
    }, this.settings.intervalMs);
    this.timer.unref();
  }

  /** Called on the event loop right after a commit: one pread of the wal-index header. */
  noteCommit(): void {
    this.commitsSince++;
    const { frames, backfilled, pageSize } = this.walIndex();
    const frameBytes = pageSize + 24;
    if (frames * frameBytes >= this.settings.limitBytes) this.checkpointInForeground(frames * frameBytes);
    else if ((frames - backfilled) * frameBytes >= this.settings.triggerBytes) this.request();
  }

  /**
   * The log's frame count and how many of them are in the database, from the wal-index header in the -shm file
   * (the documented WAL-index format, sqlite.org/walformat.html: mxFrame at byte 16, szPage at 14, nBackfill at 96,
   * native byte order). Read with pread of a descriptor opened once: the file's pages are the ones SQLite maps.
   */
  walIndex(): { frames: number; backfilled: number; pageSize: number } {
    try {
      this.shmFd ??= openSync(`${this.file}-shm`, 'r');
      if (readSync(this.shmFd, this.header, 0, 100, 0) < 100) return { frames: 0, backfilled: 0, pageSize: 4096 };
    } catch {
      return { frames: 0, backfilled: 0, pageSize: 4096 };
    }
    const h = this.header;
    const le = LITTLE_ENDIAN;
    const sz = le ? h.readUInt16LE(14) : h.readUInt16BE(14);
    return {
      frames: le ? h.readUInt32LE(16) : h.readUInt32BE(16),
      backfilled: le ? h.readUInt32LE(96) : h.readUInt32BE(96),
      pageSize: sz === 1 ? 65536 : sz || 4096,
    };
  }

  private request(): void {
    if (this.stopped || !this.copier) return;
    if (this.running) {
      this.wanted = true;
      return;
    }
    this.running = true;
    this.wanted = false;
    this.commitsSince = 0;
    // After the request that triggered it has gone on: the copy runs between callbacks, not inside a commit.
    this.current = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.run())
      .catch((e: unknown) => this.warn(`SQLite checkpoint failed: ${(e as Error).message}`))
      .finally(() => {
        this.running = false;
        this.current = undefined;
        if (this.wanted) this.request();
      });
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    const { frames, backfilled, pageSize } = this.walIndex();
    if (frames === backfilled) return;
    const empty = frames * (pageSize + 24) >= this.settings.limitBytes / 2 && this.exclusive !== undefined;
    const result = empty ? await this.exclusive!(() => this.checkpoint(true)) : await this.checkpoint(false);
    this.checkpoints++;
    if (result.restarted) this.restarts++;
    if (result.truncated) this.truncations++;
    this.last = result;
    this.onCheckpoint?.(result);
  }

  /** Steps 1-5 (the top of this file); with `empty`, then TRUNCATE if every frame is in the database. */
  private async checkpoint(empty: boolean): Promise<CheckpointResult> {
    const reader = this.reader!;
    const copier = this.copier!;
    const t0 = performance.now();
    let copyMs = 0;
    let r = { busy: 0, log: 0, checkpointed: 0 };
    reader.exec('BEGIN');
    this.reading = true;
    try {
      this.beginRead!.get();
      // Every commit in the reader's snapshot has been counted (the count is taken right after each commit).
      await this.wal.durable();
      if (this.stopped) return { ...r, restarted: false, truncated: false, copyMs, ms: performance.now() - t0 };
      const before = this.walIndex().backfilled;
      const c0 = performance.now();
      [r] = copier.pragma('wal_checkpoint(PASSIVE)') as [typeof r];
      copyMs = performance.now() - c0;
      if (this.walIndex().backfilled !== before) {
        const fd = this.dbFd!;
        await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
      }
    } finally {
      reader.exec('COMMIT');
      this.reading = false;
    }
    let truncated = false;
    if (empty && !this.stopped) {
      // Synchronously with the check: no commit can come between. With every frame copied and synced, TRUNCATE copies
      // nothing (so syncs nothing) and only starts the log over and empties the file.
      const w = this.walIndex();
      if (w.frames === w.backfilled) {
        const c0 = performance.now();
        const [t] = copier.pragma('wal_checkpoint(TRUNCATE)') as [typeof r];
        copyMs += performance.now() - c0;
        truncated = t?.busy === 0;
      }
    }
    return { busy: r.busy, log: r.log, checkpointed: r.checkpointed, restarted: truncated, truncated, copyMs, ms: performance.now() - t0 };
  }

  /**
   * Back-pressure: the WAL reached its bound, so the writer waits for a checkpoint on the event loop (at most once
   * a second; between attempts the background checkpoints keep trying).
   */
  private checkpointInForeground(size: number): void {
    const now = Date.now();
    if (now - this.lastForeground < 1000) return;
    this.lastForeground = now;
    // While a background checkpoint's reader is open, TRUNCATE would wait for it in the busy handler, on the event
    // loop that has to end it: PASSIVE copies what it can without waiting.
    const mode = this.reading ? 'PASSIVE' : 'TRUNCATE';
    const [r] = this.sqlite.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
    this.foreground++;
    this.warn(
      `the SQLite WAL reached ${Math.round(size / 1048576)} MiB (limit ${Math.round(this.settings.limitBytes / 1048576)} MiB): ` +
        `checkpointed in the foreground (busy ${r?.busy}, ${r?.checkpointed}/${r?.log} frames); the background checkpoints are behind`,
    );
  }

  /** Ends the background checkpoints (after the one in progress); checkpoints then happen only at the limit, in the foreground. */
  async stopBackground(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.current;
    this.reader?.close();
    this.copier?.close();
    this.reader = undefined;
    this.copier = undefined;
  }

  /** Stops the background checkpoints and closes their connections (before the main connection, which then checkpoints once more itself). */
  async close(): Promise<void> {
    await this.stopBackground();
    for (const fd of [this.shmFd, this.dbFd]) if (fd !== undefined) closeSync(fd);
    this.shmFd = undefined;
    this.dbFd = undefined;
  }
}
