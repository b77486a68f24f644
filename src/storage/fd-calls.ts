// File-system calls of the push path through Node's callback API with plain descriptors, as promises. Each is one
// libuv thread-pool request, as with fs.promises, but without a FileHandle object per open file and the promise
// API's extra bookkeeping per call: 25-35% less CPU per call on this path (docs/PERFORMANCE.md, "Small push CPU,
// fifth round"). Still on the thread pool, but for the two calls below.
import fs from 'node:fs';

type Done<T> = (err: NodeJS.ErrnoException | null, value: T) => void;

function call<T>(start: (done: Done<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, value) => (err ? reject(err) : resolve(value))));
}

export const openFd = (file: string, flags: string | number): Promise<number> => call((d) => fs.open(file, flags, d));
export const closeFd = (fd: number): Promise<void> => call<void>((d) => fs.close(fd, (e) => d(e, undefined)));
export const fsyncFd = (fd: number): Promise<void> => call<void>((d) => fs.fsync(fd, (e) => d(e, undefined)));
export const fdatasyncFd = (fd: number): Promise<void> => call<void>((d) => fs.fdatasync(fd, (e) => d(e, undefined)));
export const ftruncateFd = (fd: number, len: number): Promise<void> => call<void>((d) => fs.ftruncate(fd, len, (e) => d(e, undefined)));
export const writevFd = (fd: number, bufs: Buffer[], position: number): Promise<number> =>
  call((d) => fs.writev(fd, bufs, position, (e, n) => d(e, n)));
export const statPath = (file: string): Promise<fs.Stats> => call((d) => fs.stat(file, d));
export const linkPath = (from: string, to: string): Promise<void> => call<void>((d) => fs.link(from, to, (e) => d(e, undefined)));
export const unlinkPath = (file: string): Promise<void> => call<void>((d) => fs.unlink(file, (e) => d(e, undefined)));

/**
 * The two calls of the push path made on the calling thread: neither waits on a device or the journal, each costs a
 * few microseconds, and a thread-pool round trip for them costs more (a hand-off, a wake-up of a pool thread and of
 * the event loop, each a scheduler wait on a busy machine: docs/PERFORMANCE.md, "Small push under load").
 * `closeNow`: closing a descriptor (of a file whose bytes were already synced, or of a directory) starts no I/O.
 * `openDirNow`: opening a directory read-only is a path lookup, nothing is written.
 */
export const closeNow = (fd: number): void => fs.closeSync(fd);
export const openDirNow = (dir: string): number => fs.openSync(dir, 'r');
