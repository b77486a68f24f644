// Quay's mirror dates: "YYYY-MM-DDTHH:MM:SSZ" (UTC, whole seconds) in and out.
import { invalid } from '../accounts/errors.js';

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds since the epoch of an ISO 8601 date-time with a zone; throws a 400 otherwise. */
export function parseMirrorDate(v: unknown): number {
  const m = typeof v === 'string' ? ISO_RE.exec(v) : null;
  const t = m ? Date.parse(v as string) : Number.NaN;
  if (!m || Number.isNaN(t) || Number(m[2]) > 12 || Number(m[3]) > 31 || Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59)
    throw invalid(
      `Incorrect DateTime format for sync_start_date: "${String(v).slice(0, 60)}" (use ISO 8601 UTC, for example 2026-01-31T12:00:00Z)`,
    );
  return Math.floor(t / 1000) * 1000;
}

export function formatMirrorDate(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined) return null;
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
