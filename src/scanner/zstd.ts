// Streaming zstd decoding for the layer reader: fzstd in a worker thread, workers kept warm.
//
// Node 20's zlib has no zstd. We decode with `fzstd` (pure JavaScript, streaming, no native build;
// by the author of fflate) in a worker thread, rather than spawning `zstd -dc`. Berth must index
// with nothing else installed (`npm start` on a laptop, a slim container image, an air-gapped host),
// and a missing binary would turn every zstd layer into an error. The cost is speed: fzstd decodes at
// a few hundred MB/s of output where the zstd binary is several times faster (docs/SCANNER.md,
// "Speed", has the figures). Running the decoder in a worker keeps the main thread free for tar
// parsing and the scanners, so a zstd layer indexes at about the decoder's own speed. If zstd layers
// become the bottleneck, a native decoder can replace the worker behind ZstdDecompress without
// touching anything else.
//
// Warm workers: a fresh worker costs its start-up and, worse, runs fzstd cold (interpreted until V8
// has compiled its hot loops), which made a 100 MB layer cost about 1.8x the decoder's own CPU time.
// So a worker that finished a layer cleanly goes back to a small idle pool for the next layer (at
// most MAX_IDLE, each ended after IDLE_MS unused; idle workers never keep the process alive). A
// worker whose layer failed or was abandoned is terminated, never reused.
import { Transform, type TransformCallback } from 'node:stream';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// Plain JavaScript, evaluated from this string, so it needs no TypeScript loader. One stream at a
// time: 'start' opens it, 'chunk's feed it, 'end' closes it; decoded blocks come back as transferred
// buffers (no copy).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Decompress } = require(workerData.fzstd);
let out = [];
let d = null;
function flush() {
  if (!out.length) return;
  // fzstd hands out fresh blocks, but only transfer a buffer that is exactly the chunk.
  const chunks = out.map((c) => (c.byteOffset === 0 && c.byteLength === c.buffer.byteLength ? c : c.slice()));
  out = [];
  parentPort.postMessage({ t: 'data', chunks }, chunks.map((c) => c.buffer));
}
parentPort.on('message', (m) => {
  if (m.t === 'start') {
    out = [];
    d = new Decompress((chunk) => { if (chunk.length) out.push(chunk); });
    return;
  }
  try {
    d.push(m.t === 'end' ? new Uint8Array(0) : m.chunk, m.t === 'end');
    flush();
    if (m.t === 'end') d = null;
    parentPort.postMessage({ t: m.t === 'end' ? 'end' : 'ack' });
  } catch (e) {
    d = null;
    parentPort.postMessage({ t: 'error', message: String(e && e.message || e), code: e && e.code });
  }
});
`;
const FZSTD_PATH = createRequire(import.meta.url).resolve('fzstd');
const IN_FLIGHT = 2;
const MAX_IDLE = 2;
const IDLE_MS = 30_000;

type WorkerMessage = { t: 'data'; chunks: Uint8Array[] } | { t: 'ack' | 'end' } | { t: 'error'; message: string; code?: number };

interface DecoderThread {
  worker: Worker;
  owner: ZstdDecompress | undefined;
  idleTimer: NodeJS.Timeout | undefined;
}

const idle: DecoderThread[] = [];

function spawn(): DecoderThread {
  const t: DecoderThread = {
    worker: new Worker(WORKER_SOURCE, { eval: true, workerData: { fzstd: FZSTD_PATH } }),
    owner: undefined,
    idleTimer: undefined,
  };
  t.worker.unref();
  t.worker.on('message', (m: WorkerMessage) => t.owner?.onMessage(m));
  t.worker.on('error', (err) => t.owner?.destroy(err));
  t.worker.on('exit', () => {
    const i = idle.indexOf(t);
    if (i >= 0) idle.splice(i, 1);
    t.owner?.destroy(new Error('the zstd decoder thread stopped'));
  });
  return t;
}

function acquire(owner: ZstdDecompress): DecoderThread {
  const t = idle.pop() ?? spawn();
  clearTimeout(t.idleTimer);
  t.owner = owner;
  t.worker.postMessage({ t: 'start' });
  return t;
}

/** A thread whose stream ended cleanly goes back to the pool (or ends, when the pool is full). */
function release(t: DecoderThread): void {
  t.owner = undefined;
  if (idle.length >= MAX_IDLE) {
    void t.worker.terminate();
    return;
  }
  t.idleTimer = setTimeout(() => void t.worker.terminate(), IDLE_MS).unref();
  idle.push(t);
}

function discard(t: DecoderThread): void {
  t.owner = undefined;
  void t.worker.terminate();
}

/** Streaming zstd decoding with fzstd in a (warm) worker thread (see the note at the top). */
export class ZstdDecompress extends Transform {
  private thread: DecoderThread | undefined;
  private inFlight = 0;
  private waiting: TransformCallback | undefined;
  private ending: TransformCallback | undefined;

  constructor() {
    super({ readableHighWaterMark: 1 << 20 });
  }

  /** Messages of this stream's worker (only while it owns the worker). */
  onMessage(m: WorkerMessage): void {
    if (m.t === 'data') {
      for (const c of m.chunks) this.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
    } else if (m.t === 'ack') {
      this.inFlight--;
      const cb = this.waiting;
      this.waiting = undefined;
      cb?.();
    } else if (m.t === 'end') {
      const cb = this.ending;
      this.ending = undefined;
      if (this.thread) release(this.thread);
      this.thread = undefined;
      cb?.();
    } else if (m.t === 'error') {
      const err = Object.assign(new Error(m.message), { code: m.code });
      const cb = this.waiting ?? this.ending;
      this.waiting = this.ending = undefined;
      if (cb) cb(err);
      else this.destroy(err);
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.thread ??= acquire(this);
    const copy = new Uint8Array(chunk); // the source may reuse or share its buffers: send a private copy
    this.thread.worker.postMessage({ t: 'chunk', chunk: copy }, [copy.buffer]);
    if (++this.inFlight < IN_FLIGHT) cb();
    else this.waiting = cb;
  }

  override _flush(cb: TransformCallback): void {
    this.thread ??= acquire(this);
    this.ending = cb;
    this.thread.worker.postMessage({ t: 'end' });
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (this.thread) discard(this.thread);
    this.thread = undefined;
    cb(err);
  }
}
