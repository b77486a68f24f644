// What the scanner's parts log through (the server's pino logger, or nothing) and report to metrics.

export interface ScannerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const SILENT: ScannerLogger = { info() {}, warn() {}, error() {} };

export type ScanOutcome = 'indexed' | 'unsupported' | 'failed' | 'retry';

/** Hooks for the metrics module (src/metrics): one observer, no second registry here. */
export interface ScannerObserver {
  onScanQueued?(): void;
  onScanStarted?(): void;
  /** `error`: what ended a failed attempt (outcome failed or retry). */
  onScanFinished?(durationMs: number, outcome: ScanOutcome, error?: unknown): void;
}
