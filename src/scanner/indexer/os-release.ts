// Distribution scanner: os-release(5) at etc/os-release or usr/lib/os-release. When both are visible,
// the layered view (./whiteouts.ts) prefers etc/os-release, as systemd does.
import type { BufferScanner, Distribution } from './types.js';

/** Parses os-release's shell-like KEY=value lines (quotes, backslash escapes, comments). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]] = unquote(m[2]);
  }
  return out;
}

function unquote(v: string): string {
  let out = '';
  let i = 0;
  while (i < v.length) {
    const c = v[i];
    if (c === '"') {
      i++;
      while (i < v.length && v[i] !== '"') {
        if (v[i] === '\\' && i + 1 < v.length && '$"\\`'.includes(v[i + 1])) i++;
        out += v[i++];
      }
      i++;
    } else if (c === "'") {
      const end = v.indexOf("'", i + 1);
      out += end < 0 ? v.slice(i + 1) : v.slice(i + 1, end);
      i = end < 0 ? v.length : end + 1;
    } else if (c === '\\' && i + 1 < v.length) {
      out += v[i + 1];
      i += 2;
    } else if (c === '#' && (i === 0 || /\s/.test(v[i - 1]))) {
      break; // trailing comment
    } else {
      out += c;
      i++;
    }
  }
  return out.trim();
}

export function distributionFromOsRelease(kv: Record<string, string>): Distribution | undefined {
  // ID defaults to "linux" per os-release(5); a file without ID or NAME says nothing useful.
  if (!kv.ID && !kv.NAME) return undefined;
  const d: Distribution = { id: (kv.ID || 'linux').toLowerCase() };
  if (kv.NAME) d.name = kv.NAME;
  if (kv.VERSION) d.version = kv.VERSION;
  if (kv.VERSION_ID) d.version_id = kv.VERSION_ID;
  if (kv.VERSION_CODENAME) d.version_codename = kv.VERSION_CODENAME;
  else if (kv.UBUNTU_CODENAME) d.version_codename = kv.UBUNTU_CODENAME;
  if (kv.PRETTY_NAME) d.pretty_name = kv.PRETTY_NAME;
  if (kv.CPE_NAME) d.cpe = kv.CPE_NAME;
  return d;
}

export const osReleaseScanner: BufferScanner = {
  name: 'os-release',
  version: 1,
  kind: 'distribution',
  input: 'buffer',
  maxBytes: 64 * 1024,
  claims: (p) => p === 'etc/os-release' || p === 'usr/lib/os-release',
  scan(data) {
    const distribution = distributionFromOsRelease(parseOsRelease(data.toString('utf8')));
    return distribution ? { distribution } : {};
  },
};
