// Small parsing helpers shared by scanners.

/**
 * Splits a Debian-control-style (RFC 822-like) text into stanzas of fields. Continuation lines
 * (starting with a space or tab) are appended to the previous field; field names are kept as
 * written; the first occurrence of a field in a stanza wins.
 */
export function parseStanzas(text: string, continuation = '\n'): Array<Map<string, string>> {
  const out: Array<Map<string, string>> = [];
  let cur = new Map<string, string>();
  let last: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') {
      if (cur.size) out.push(cur);
      cur = new Map();
      last = undefined;
      continue;
    }
    if (line[0] === ' ' || line[0] === '\t') {
      if (last !== undefined) cur.set(last, `${cur.get(last)}${continuation}${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon);
    if (cur.has(key)) {
      last = undefined;
      continue;
    }
    cur.set(key, line.slice(colon + 1).trim());
    last = key;
  }
  if (cur.size) out.push(cur);
  return out;
}

/** The header fields of an email-style file (Python METADATA / PKG-INFO, jar MANIFEST.MF): up to the first blank line. */
export function parseHeaderBlock(text: string, continuation = '\n'): Map<string, string> {
  const end = text.search(/\r?\n\r?\n/);
  return parseStanzas(end < 0 ? text : text.slice(0, end), continuation)[0] ?? new Map();
}
