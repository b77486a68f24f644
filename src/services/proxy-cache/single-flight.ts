// One in-flight piece of work per key: a second caller for the same key waits for the first one's result.
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Runs `work` unless a run for `key` is in flight, in which case its promise is returned. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running) return running;
    const p = work().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** The promise of a run in flight for `key`, if any. */
  pending(key: string): Promise<T> | undefined {
    return this.inflight.get(key);
  }

  /** Registers a run started elsewhere (a blob fetch whose stream goes to its first client). */
  track(key: string, p: Promise<T>): void {
    const tracked = p.finally(() => {
      if (this.inflight.get(key) === tracked) this.inflight.delete(key);
    });
    tracked.catch(() => undefined);
    this.inflight.set(key, tracked);
  }
}
