// Debian packages: var/lib/dpkg/status (installed packages only) and, for distroless images,
// one control stanza per file in var/lib/dpkg/status.d/ (their *.md5sums siblings are not stanzas).
import type { BufferScanner, FoundPackage } from './types.js';
import { parseStanzas } from './util.js';

const STATUS = 'var/lib/dpkg/status';
const STATUS_D = 'var/lib/dpkg/status.d/';

/** `Source: name` or `Source: name (version)`; without the field the source is the package itself. */
export function parseDebSource(field: string | undefined, pkg: string, version: string): { name: string; version: string } {
  const m = field ? /^(\S+)(?:\s*\(([^)]*)\))?/.exec(field.trim()) : null;
  if (!m) return { name: pkg, version };
  return { name: m[1], version: m[2]?.trim() || version };
}

/**
 * Packages of a dpkg status text. In the status file a package counts only when its Status says it
 * is installed (`install ok installed`, or held: `hold ok installed`); status.d stanzas usually have
 * no Status field and count unless one says otherwise.
 */
export function parseDpkgStatus(text: string, requireStatus: boolean): FoundPackage[] {
  const out: FoundPackage[] = [];
  for (const st of parseStanzas(text)) {
    const name = st.get('Package');
    const version = st.get('Version');
    if (!name || !version) continue;
    const status = st.get('Status');
    if (status !== undefined || requireStatus) {
      const words = (status ?? '').split(/\s+/);
      if (words.length !== 3 || words[1] !== 'ok' || words[2] !== 'installed') continue;
    }
    const pkg: FoundPackage = {
      name,
      version,
      kind: 'binary',
      ecosystem: 'deb',
      source: parseDebSource(st.get('Source'), name, version),
    };
    const arch = st.get('Architecture');
    if (arch) pkg.arch = arch;
    out.push(pkg);
  }
  return out;
}

export const dpkgScanner: BufferScanner = {
  name: 'dpkg',
  version: 1,
  kind: 'package',
  input: 'buffer',
  maxBytes: 32 * 1024 * 1024,
  claims: (p) =>
    p === STATUS ||
    (p.startsWith(STATUS_D) && p.indexOf('/', STATUS_D.length) < 0 && !p.endsWith('.md5sums') && p.length > STATUS_D.length),
  scan(data, info) {
    return { packages: parseDpkgStatus(data.toString('utf8'), info.path === STATUS) };
  },
};
