// JSON exactly as Go's encoding/json Marshal writes it: no spaces, the caller's field order,
// and <, >, &, U+2028, U+2029 escaped (Go escapes HTML characters by default).
export function goJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** An object with its keys sorted (Go marshals maps in key order). */
export function sortedMap(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(m)
      .sort()
      .map((k) => [k, m[k]]),
  );
}
