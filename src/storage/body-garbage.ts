// Request bodies arrive as fresh buffers (Node's HTTP parser copies each socket read, up to 64 KiB), each with
// memory outside the JavaScript heap that is freed only when V8 collects the small object holding it. An upload
// allocates almost nothing else on the heap, so V8 waits until about 32 MiB of such buffers have piled up in the
// young generation before it collects (its external-memory trigger, not the young generation's size). A
// young-generation collection every few MiB of body bytes keeps that garbage to a few MiB; it costs well under a
// millisecond with the small young generation Berth runs with (`--max-semi-space-size=2`).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Body bytes between two young-generation collections: twice what FsBlobStore keeps alive at a time (two write
 * batches), so that a body buffer is collected at the first collection after it is written, never promoted. (The S3
 * store keeps a part of 5+ MiB: its buffers are promoted either way.)
 */
export const COLLECT_EVERY_BYTES = 2 * 1024 * 1024;

type Gc = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

let gc: Gc | null | undefined;
let pending = 0;

function collector(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    // The process's own gc() when it runs with --expose-gc; else the same function exposed for a new context
    // (the flag is read when a context is created, and this leaves the main context's globals as they are).
    const own = (globalThis as { gc?: unknown }).gc;
    if (typeof own === 'function') gc = own as Gc;
    else {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as Gc;
    }
  } catch {
    gc = null; // a runtime without it: the garbage waits for V8's own schedule, as before
  }
  return gc;
}

/** Counts body bytes read into fresh buffers; collects the young generation each COLLECT_EVERY_BYTES. */
export function bodyBytesRead(n: number): void {
  pending += n;
  if (pending < COLLECT_EVERY_BYTES) return;
  pending = 0;
  collector()?.({ type: 'minor' });
}

/** For tests: the body bytes counted since the last collection. */
export function pendingBodyBytes(): number {
  return pending;
}
