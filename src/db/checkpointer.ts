// SQLite checkpoints off the event loop. The main connection runs with wal_autocheckpoint=0; a worker thread with its
// own connection to the same file copies WAL frames into the database (PRAGMA wal_checkpoint(PASSIVE), which never
// blocks the writer) and fsyncs it there. Triggered when the WAL grows by `triggerBytes` and on a timer; when the
// file passes `limitBytes` anyway (the worker fell behind or died) the main connection checkpoints in the
// foreground, with a warning. Why acknowledged writes survive: docs/PERFORMANCE.md, "The commit path".
import { closeSync, fstatSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

export interface CheckpointSettings {
  /** Ask the worker for a checkpoint when the WAL file has grown this much since its last one (default 4 MiB). */
  triggerBytes: number;
  /** Checkpoint in the foreground when the WAL file is this large (default 64 MiB). */
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
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    let truncated = false;
    // Everything is in the (synced) database file: give the WAL file back its space when it grew past the
    // trigger. TRUNCATE needs the writer lock for a moment and no reader on the WAL; with busy_timeout 0 it
    // reports busy instead of waiting.
    if (r.busy === 0 && r.log === r.checkpointed && walSize() >= workerData.truncateBytes) {
      const [t] = db.pragma('wal_checkpoint(TRUNCATE)');
      truncated = t.busy === 0;
    }
    parentPort.postMessage({ t: 'done', busy: r.busy, log: r.log, checkpointed: r.checkpointed, truncated, walBytes: walSize(), ms: performance.now() - t0 });
  } catch (e) {
    parentPort.postMessage({ t: 'error', message: String((e && e.message) || e) });
  }
});
`;
const SQLITE_PATH = createRequire(import.meta.url).resolve('better-sqlite3');

type WorkerMessage = ({ t: 'done' } & CheckpointResult) | { t: 'error'; message: string };

export class WalCheckpointer {
  /** Checkpoints the worker completed. */
  checkpoints = 0;
  /** Of those, how many also truncated the WAL file. */
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
  /** The WAL file's size after the last checkpoint: growth is measured from it. */
  private base = 0;
  private lastForeground = 0;
  private fd: number | undefined;
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
      workerData: { sqlite: SQLITE_PATH, file: this.file, truncateBytes: this.settings.triggerBytes },
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

  /** Called on the event loop right after a commit. */
  noteCommit(): void {
    this.commitsSince++;
    const size = this.walBytes();
    if (size >= this.settings.limitBytes) this.checkpointInForeground(size);
    else if (size - this.base >= this.settings.triggerBytes) this.request();
  }

  /** The -wal file's current size (an fstat of a descriptor opened once: SQLite resets the file in place). */
  walBytes(): number {
    try {
      this.fd ??= openSync(`${this.file}-wal`, 'r');
      return fstatSync(this.fd).size;
    } catch {
      return 0;
    }
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
      if (result.truncated) this.truncations++;
      this.base = result.walBytes;
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
    this.base = this.walBytes();
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
