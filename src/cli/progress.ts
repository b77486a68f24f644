// Progress for long CLI work (scanner export-updaters / import-updaters, gc, chart push): one line on
// stderr, rewritten in place at most every 100 ms, with the count, the bytes, the rate and a bar when
// the total is known. Only on a terminal: when stderr is not a TTY (a pipe, a file, CI logs) it
// writes nothing at all, so scripts see exactly the command's output and its one-line summary.
// BERTH_PROGRESS=1 forces it on (and =0 off) for terminals that do not say they are one.

export interface ProgressState {
  /** What is going on now ("writing debian-tracker", "uploading nginx-1.2.3.tgz"). */
  label?: string;
  /** Items done so far, and how many there are when known. */
  done?: number;
  total?: number;
  /** The items' name ("records", "blobs"). */
  unit?: string;
  /** Bytes done so far, and how many there are when known. */
  bytes?: number;
  totalBytes?: number;
}

export interface Progress {
  /** Whether anything is drawn (stderr is a terminal). */
  readonly active: boolean;
  update(s: ProgressState): void;
  /** Clears the line (the command then prints its summary). */
  done(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  /** Overrides the TTY check (tests). */
  tty?: boolean;
  now?: () => number;
  /** Minimum time between two drawings. */
  intervalMs?: number;
  /** Terminal width (default the stream's columns, else 80). */
  columns?: number;
}

const BAR = 24;

export function formatBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

function bar(fraction: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * BAR);
  return `[${'#'.repeat(full)}${'.'.repeat(BAR - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** The text of one progress line (exported for tests). */
export function renderProgress(title: string, s: ProgressState, elapsedMs: number): string {
  const parts: string[] = [title];
  if (s.label) parts.push(s.label);
  const fraction = s.totalBytes ? (s.bytes ?? 0) / s.totalBytes : s.total ? (s.done ?? 0) / s.total : undefined;
  if (fraction !== undefined) parts.push(bar(fraction));
  const unit = s.unit ?? 'items';
  if (s.done !== undefined) parts.push(s.total !== undefined ? `${s.done}/${s.total} ${unit}` : `${s.done} ${unit}`);
  if (s.bytes !== undefined)
    parts.push(s.totalBytes !== undefined ? `${formatBytes(s.bytes)}/${formatBytes(s.totalBytes)}` : formatBytes(s.bytes));
  const secs = elapsedMs / 1000;
  if (secs > 0) {
    if (s.bytes !== undefined) parts.push(`${formatBytes(s.bytes / secs)}/s`);
    else if (s.done !== undefined) parts.push(`${(s.done / secs).toFixed(s.done / secs < 10 ? 1 : 0)} ${unit}/s`);
  }
  return parts.join('  ');
}

export function progress(title: string, o: ProgressOptions = {}): Progress {
  const stream = o.stream ?? process.stderr;
  const env = process.env.BERTH_PROGRESS;
  const active = o.tty ?? (env === '1' ? true : env === '0' ? false : stream.isTTY === true);
  const now = o.now ?? Date.now;
  const interval = o.intervalMs ?? 100;
  const started = now();
  let last = -Infinity;
  let drawn = false;
  let state: ProgressState = {};
  const draw = () => {
    const cols = o.columns ?? stream.columns ?? 80;
    let line = renderProgress(title, state, now() - started);
    if (line.length > cols - 1) line = `${line.slice(0, Math.max(0, cols - 2))}…`;
    stream.write(`\r\x1b[K${line}`);
    drawn = true;
  };
  return {
    active,
    update(s) {
      if (!active) return;
      state = { ...state, ...s };
      const t = now();
      if (t - last < interval) return;
      last = t;
      draw();
    },
    done() {
      if (!active) return;
      if (drawn) stream.write('\r\x1b[K');
    },
  };
}
