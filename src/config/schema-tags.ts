// Config keys of tag history (the time machine): how long a deleted or moved tag can be restored.
import { z } from 'zod';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** Quay's duration strings ("2w", "14d", "36h", "90m", "30s") in seconds. */
export function durationSeconds(text: string): number {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration such as 2w, 14d, 36h, 90m or 30s`);
  return Number(m[1]) * UNIT_SECONDS[m[2]];
}

export const tagsConfigSchema = {
  /** Quay's time-machine window: tag history (and the manifests it names) is kept this long after a tag
   * is moved or deleted, so it can be restored; gc then prunes it. Default 2w, as in Quay. */
  DEFAULT_TAG_EXPIRATION: z
    .string()
    .regex(/^\s*\d+[smhdw]\s*$/, 'must be a duration such as 2w, 14d, 36h, 90m or 30s')
    .default('2w'),
};
