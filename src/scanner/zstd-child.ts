// Streaming zstd decoding through a `zstd -dc` child process (Node versions whose zlib has no zstd).
//
// The compressed bytes go to the child's stdin, the decoded bytes come back from its stdout, both with
// back-pressure: a write completes when the pipe took it, and the child's stdout is paused while this
// stream's reader is full. The child decodes on its own core at the zstd binary's speed.
//
// The child never outlives the stream: it is killed (SIGKILL) when the stream is destroyed for any
// reason (the reader gave up, an error upstream, the tar parser failed), and a child that exits on its
// own with a failure becomes this stream's error, carrying what zstd printed ("premature end",
// "Unknown frame descriptor", …). `liveChildren()` counts the children still running, for tests.
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Readable, Writable } from 'node:stream';

/** The decoder process failed: zstd's exit status and its own message. */
export class ZstdChildError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
    this.name = 'ZstdChildError';
  }
}

const live = new Set<number>();

/** Process ids of `zstd -dc` children that have not exited yet. */
export function liveChildren(): number[] {
  return [...live];
}

const MAX_STDERR = 4096;

export class ZstdChildDecompress extends Duplex {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private exited = false;
  private stdoutEnded = false;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private stderr = '';
  /** A write or the final end whose completion waits for the child's exit (its stdin broke). */
  private parked: ((err?: Error | null) => void) | undefined;

  constructor(binary: string) {
    super({ readableHighWaterMark: 1 << 20, writableHighWaterMark: 1 << 20 });
    this.child = spawn(binary, ['-d', '-c', '-q', '--no-progress'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const pid = this.child.pid;
    if (pid !== undefined) live.add(pid);
    this.child.stdout.on('data', (c: Buffer) => {
      if (!this.push(c)) this.child.stdout.pause();
    });
    this.child.stdout.on('end', () => {
      this.stdoutEnded = true;
      this.settle();
    });
    this.child.stdout.on('error', () => {}); // reported through the exit status
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (s: string) => {
      if (this.stderr.length < MAX_STDERR) this.stderr += s;
    });
    // The child may exit (bad input) while a write is in flight: EPIPE. Its exit status says why.
    this.child.stdin.on('error', () => {});
    this.child.on('error', (err) => {
      // spawn itself failed (binary gone): no 'exit' follows.
      if (pid !== undefined) live.delete(pid);
      this.exited = true;
      this.destroy(new ZstdChildError(`the zstd decoder could not be started: ${err.message}`, null, null));
    });
    this.child.on('exit', (code, signal) => {
      if (pid !== undefined) live.delete(pid);
      this.exited = true;
      this.exit = { code, signal };
      this.settle();
    });
  }

  /** The child's failure as an error, or undefined when it exited with status 0. */
  private failure(): ZstdChildError | undefined {
    const e = this.exit;
    if (!e || e.code === 0) return undefined;
    const said = this.stderr
      .replace(/\/\*stdin\*\\?\s*:\s*/g, '')
      .replace(/^zstd:\s*/gm, '')
      .trim()
      .split('\n')
      .filter(Boolean)
      .join('; ');
    const how = e.signal ? `was killed by ${e.signal}` : `exited with status ${e.code}`;
    return new ZstdChildError(`zstd ${how}${said ? `: ${said}` : ''}`, e.code, e.signal);
  }

  /** Ends the readable side once the child has exited and its output is fully read. */
  private settle(): void {
    if (!this.exited || this.destroyed) return;
    const err = this.failure();
    if (err) {
      const cb = this.parked;
      this.parked = undefined;
      if (cb) cb(err);
      this.destroy(err);
      return;
    }
    if (this.parked) {
      // A clean exit while input was still being written: zstd stopped reading (trailing bytes it ignored).
      const cb = this.parked;
      this.parked = undefined;
      cb();
    }
    if (this.stdoutEnded) this.push(null);
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.exited) {
      cb(this.failure() ?? null);
      return;
    }
    this.child.stdin.write(chunk, (err) => {
      if (!err) cb();
      else if (this.exited) cb(this.failure() ?? null);
      else this.parked = cb;
    });
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (this.exited) {
      cb(this.failure() ?? null);
      return;
    }
    this.child.stdin.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    if (!this.exited) this.child.kill('SIGKILL');
    this.child.stdin.destroy();
    this.child.stdout.destroy();
    this.child.stderr.destroy();
    cb(err);
  }
}
