// When a cached tag must be checked against the upstream again (expiration_s after the last check).
export function isFresh(checkedAt: number, expirationS: number, now: number): boolean {
  return now < checkedAt + expirationS * 1000;
}
