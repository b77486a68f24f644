// Retrying a transaction that lost a race with a concurrent writer (unique or foreign-key conflict,
// serialization failure, deadlock, busy database): the second attempt sees the winner's rows.
const PG_RETRYABLE = new Set(['23505', '23503', '40001', '40P01']);
const SQLITE_RETRYABLE = /^SQLITE_(BUSY|LOCKED|CONSTRAINT_FOREIGNKEY|CONSTRAINT_UNIQUE|CONSTRAINT_PRIMARYKEY)/;

export function isConflict(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'string' && (PG_RETRYABLE.has(code) || SQLITE_RETRYABLE.test(code));
}

export async function retryOnConflict<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (e) {
      if (i >= attempts || !isConflict(e)) throw e;
      await new Promise((r) => setTimeout(r, 2 * i + Math.random() * 5));
    }
  }
}
