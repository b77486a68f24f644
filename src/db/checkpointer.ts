// SQLite checkpoints off the event loop. The main connection runs with wal_autocheckpoint=0; a worker thread with its
// own connection to the same file copies WAL frames into the database (PRAGMA wal_checkpoint(PASSIVE), which never
// blocks the writer) and fsyncs it there. Triggered when `triggerBytes` of frames are not yet in the database and on
// a timer; when the log reaches `limitBytes` anyway (the worker fell behind or died) the main connection checkpoints
// in the foreground, with a warning. Why acknowledged writes survive: docs/PERFORMANCE.md, "The commit path".
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

export interface CheckpointSettings {
  /** Ask the worker for a checkpoint when this many bytes of WAL frames are not in the database yet (default 4 MiB). */
  triggerBytes: number;
  /**
   * Checkpoint in the foreground when the log holds this many bytes of frames (default 64 MiB). The worker
   * resets (TRUNCATE) a log that holds half of this; shorter logs start over whenever the commits pause.
   */
  limitBytes: number;
  /** Also ask every this many ms when anything was committed since the last checkpoint (default 1000). */
  intervalMs: number;
}

export const CHECKPOINT_DEFAULTS: CheckpointSettings = {
  triggerBytes: 4 * 1024 * 1024,
  limitBytes: 64 * 1024 * 1024,
  intervalMs: 1000,
};

/** One worker checkpoint's outcome (PRAGMA wal_checkpoint's row, plus what the worker did after it). */
export interface CheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
  /** RESTART or TRUNCATE succeeded: the next commit starts the log over. */
  restarted: boolean;
  truncated: boolean;
  /** The -wal file's size after the checkpoint. */
  walBytes: number;
  ms: number;
}

// Plain JavaScript run with `eval` (the worker must not depend on how the main program was compiled).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file, { fileMustExist: true });
// NORMAL: the checkpoint syncs the WAL before copying and the database file after (never OFF).
db.pragma('synchronous = NORMAL');
// Never wait on the main connection's locks: a busy checkpoint is retried at the next request.
db.pragma('busy_timeout = 0');
db.pragma('wal_autocheckpoint = 0');
const walSize = () => statSync(workerData.file + '-wal', { throwIfNoEntry: false })?.size ?? 0;
parentPort.on('message', (m) => {
  if (m.t === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const t0 = performance.now();
    // PASSIVE copies the frames into the database and syncs it without taking the writer's lock: commits go on.
    let [r] = db.pragma('wal_checkpoint(PASSIVE)');
    let truncated = false;
    let restarted = false;
    // The log starts over from its first frame when a commit begins with every frame copied: after any pause in
    // the commits longer than this pass. A writer that never pauses keeps the log growing; when it holds half the
    // limit, TRUNCATE copies the frames committed since the PASSIVE pass while holding the writer lock (a commit in
    // that moment waits in SQLite's busy handler for that copy and its two syncs: the stall this thread otherwise
    // avoids, so only then), empties the file and gives its space back. With busy_timeout 0 it reports busy
    // rather than wait for a transaction or reader in progress, leaving it to the next round.
    if (r.busy === 0 && r.log * workerData.frameBytes >= workerData.restartBytes) {
      [r] = db.pragma('wal_checkpoint(TRUNCATE)');
      truncated = r.busy === 0;
      restarted = r.busy === 0;
    }
    parentPort.postMessage({ t: 'done', busy: r.busy, log: r.log, checkpointed: r.checkpointed, restarted, truncated, walBytes: walSize(), ms: performance.now() - t0 });
  } catch (e) {
    parentPort.postMessage({ t: 'error', message: String((e && e.message) || e) });
  }
});
`;
const LITTLE_ENDIAN = endianness() === 'LE';
const SQLITE_PATH = createRequire(import.meta.url).resolve('better-sqlite3');

type WorkerMessage = ({ t: 'done' } & CheckpointResult) | { t: 'error'; message: string };

export class WalCheckpointer {
  /** Checkpoints the worker completed. */
  checkpoints = 0;
  /** Of those, how many also reset the log (RESTART or TRUNCATE), and how many truncated the file. */
  restarts = 0;
  truncations = 0;
  /** Checkpoints run on the main connection because the WAL reached `limitBytes`. */
  foreground = 0;
  /** The worker's last result (tests, diagnostics). */
  last: CheckpointResult | undefined;
  /** Called after each worker checkpoint (tests). */
  onCheckpoint: ((r: CheckpointResult) => void) | undefined;

  private worker: Worker | undefined;
  private running = false;
  private wanted = false;
  private commitsSince = 0;
  private lastForeground = 0;
  private fd: number | undefined;
  private readonly header = Buffer.alloc(100);
  private timer: NodeJS.Timeout | undefined;
  private exited: Promise<void> | undefined;

  constructor(
    private readonly file: string,
    private readonly sqlite: SQLite.Database,
    readonly settings: CheckpointSettings,
    private readonly warn: (message: string) => void = (m) => process.emitWarning(m, 'BerthCheckpoint'),
  ) {}

  start(): void {
    this.sqlite.pragma('wal_autocheckpoint = 0');
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        sqlite: SQLITE_PATH,
        file: this.file,
        restartBytes: this.settings.limitBytes / 2,
        frameBytes: (this.sqlite.pragma('page_size', { simple: true }) as number) + 24,
      },
    });
    worker.unref();
    worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    worker.on('error', (e) => this.warn(`the SQLite checkpoint thread failed (checkpoints now run in the foreground): ${e.message}`));
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    void this.exited.then(() => {
      if (this.worker === worker) this.worker = undefined;
      this.running = false;
    });
    this.worker = worker;
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
      this.fd ??= openSync(`${this.file}-shm`, 'r');
      if (readSync(this.fd, this.header, 0, 100, 0) < 100) return { frames: 0, backfilled: 0, pageSize: 4096 };
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
    if (!this.worker) return;
    if (this.running) {
      this.wanted = true;
      return;
    }
    this.running = true;
    this.wanted = false;
    this.commitsSince = 0;
    this.worker.postMessage({ t: 'checkpoint' });
  }

  private onMessage(m: WorkerMessage): void {
    this.running = false;
    if (m.t === 'error') {
      this.warn(`SQLite checkpoint in the worker thread failed: ${m.message}`);
    } else {
      const { t: _t, ...result } = m;
      this.checkpoints++;
      if (result.restarted) this.restarts++;
      if (result.truncated) this.truncations++;
      this.last = result;
      this.onCheckpoint?.(result);
    }
    if (this.wanted) this.request();
  }

  /**
   * Back-pressure: the WAL reached its bound, so the writer waits for a checkpoint on the event loop (at most once
   * a second; between attempts the worker keeps trying).
   */
  private checkpointInForeground(size: number): void {
    const now = Date.now();
    if (now - this.lastForeground < 1000) return;
    this.lastForeground = now;
    const [r] = this.sqlite.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    this.foreground++;
    this.warn(
      `the SQLite WAL reached ${Math.round(size / 1048576)} MiB (limit ${Math.round(this.settings.limitBytes / 1048576)} MiB): ` +
        `checkpointed in the foreground (busy ${r?.busy}, ${r?.checkpointed}/${r?.log} frames); the checkpoint thread is behind`,
    );
  }

  /** Ends the worker thread (its connection closes); checkpoints then happen only at the limit, in the foreground. */
  async stopWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    worker.postMessage({ t: 'close' });
    const timeout = setTimeout(() => void worker.terminate(), 5000);
    await this.exited;
    clearTimeout(timeout);
    this.worker = undefined;
  }

  /** Stops the timer and the worker (before the main connection closes, which then checkpoints once more itself). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.stopWorker();
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
