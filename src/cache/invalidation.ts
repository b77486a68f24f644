// Invalidation after writes: wraps the named methods of a service so that, once the method has finished
// (its transaction committed, or it failed), the groups it touched are invalidated on every replica
// before the caller answers. One place per service lists its writes (see the constructors).
import type { DataModelCache } from './types.js';

type Methods<T> = { [K in keyof T]: T[K] extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T];

export function invalidateAfter<T extends object>(
  service: T,
  cache: DataModelCache | undefined,
  methods: readonly Methods<T>[],
  groups: (args: unknown[]) => string[] | Promise<string[]>,
): void {
  if (!cache) return;
  for (const name of methods) {
    const original = service[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    if (typeof original !== 'function') throw new Error(`invalidateAfter: ${String(name)} is not a method`);
    (service as Record<PropertyKey, unknown>)[name as PropertyKey] = async function (this: T, ...args: unknown[]) {
      // The groups are named before the write (a delete may remove what names them), dropped after it.
      const touched = await groups(args);
      try {
        return await original.apply(this, args);
      } finally {
        await cache.invalidate(...touched);
      }
    };
  }
}
