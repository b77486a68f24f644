// A value recomputed at most once per interval, whatever the scrape rate: expensive queries
// (row counts, storage used) run on the first scrape after the interval, never more often,
// and concurrent scrapes share one computation. A failed refresh keeps the last good value.

export class CachedValue<T> {
  private value: T | undefined;
  private loadedAt = -Infinity;
  private pending: Promise<T | undefined> | undefined;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly onError: (e: unknown) => void = () => {},
    private readonly clock: () => number = () => performance.now(),
  ) {}

  /** The cached value, refreshed first when older than the interval; undefined until a load succeeds. */
  get(): Promise<T | undefined> {
    if (this.clock() - this.loadedAt < this.maxAgeMs) return Promise.resolve(this.value);
    this.pending ??= this.load()
      .then(
        (v) => {
          this.value = v;
          this.loadedAt = this.clock();
          return v;
        },
        (e: unknown) => {
          // Try again after the interval, not on every scrape.
          this.loadedAt = this.clock();
          this.onError(e);
          return this.value;
        },
      )
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forgets the age so the next get() reloads (tests, or after a known big change). */
  invalidate(): void {
    this.loadedAt = -Infinity;
  }
}
