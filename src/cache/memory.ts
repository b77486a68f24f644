// The in-memory engine: one process (the laptop start), and the first level of every Redis replica.
// Each group has a generation; an entry is used only while its group's generation is the one it was
// loaded under, so a load that raced an invalidation is never kept.
import type { DataModelCache } from './types.js';

interface Entry {
  value: unknown;
  gen: number;
  expires: number;
  weight: number;
}

/** The store's bound, in weight units: an entry weighs 1 unless its value says more (see `weightOf`). */
const MAX_ENTRIES = 20_000;

/**
 * A value's weight in the store's bound: 1, or what a value with a `cacheWeight` number declares (a repository's
 * tag list weighs one unit per ten names, services/tag-list.ts), so a few large values cannot hold many times
 * the memory of MAX_ENTRIES small ones.
 */
export function weightOf(value: unknown): number {
  const w = (value as { cacheWeight?: unknown } | null)?.cacheWeight;
  return typeof w === 'number' && w > 1 ? Math.ceil(w) : 1;
}

export class GenerationStore {
  private readonly gens = new Map<string, number>();
  private readonly groups = new Map<string, Map<string, Entry>>();
  private size = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  gen(group: string): number {
    return this.gens.get(group) ?? 0;
  }

  known(group: string): boolean {
    return this.gens.has(group);
  }

  /** Moves the group to generation `to` (never backwards) and drops its entries. */
  advance(group: string, to: number = this.gen(group) + 1): void {
    if (to >= this.gen(group)) this.gens.set(group, to);
    const g = this.groups.get(group);
    if (g) {
      for (const e of g.values()) this.size -= e.weight;
      this.groups.delete(group);
    }
  }

  /** Forgets everything, generations included (after missed invalidations). */
  reset(): void {
    this.gens.clear();
    this.groups.clear();
    this.size = 0;
  }

  get(group: string, key: string): { value: unknown } | undefined {
    const e = this.groups.get(group)?.get(key);
    if (!e) return undefined;
    if (e.gen !== this.gen(group) || e.expires < this.now()) return undefined;
    return { value: e.value };
  }

  set(group: string, key: string, value: unknown, gen: number): void {
    if (gen !== this.gen(group)) return;
    const weight = weightOf(value);
    if (this.size + weight > MAX_ENTRIES) {
      this.groups.clear();
      this.size = 0;
    }
    let g = this.groups.get(group);
    if (!g) {
      g = new Map();
      this.groups.set(group, g);
    }
    this.size += weight - (g.get(key)?.weight ?? 0);
    g.set(key, { value, gen, expires: this.now() + this.ttlMs, weight });
  }
}

export class InMemoryCache implements DataModelCache {
  readonly engine = 'inmemory' as const;
  private readonly store: GenerationStore;

  constructor(ttlSeconds: number) {
    this.store = new GenerationStore(ttlSeconds * 1000);
  }

  async fetch<T>(group: string, key: string, load: () => Promise<T | undefined>): Promise<T | undefined> {
    const hit = this.store.get(group, key);
    if (hit) return hit.value as T;
    const gen = this.store.gen(group);
    const value = await load();
    if (value !== undefined) this.store.set(group, key, value, gen);
    return value;
  }

  async invalidate(...groups: string[]): Promise<void> {
    for (const g of groups) this.store.advance(g);
  }

  async close(): Promise<void> {}
}
