// Alpine packages: the apk installed database (lib/apk/db/installed; usr/lib/apk/db/installed in
// newer apk-tools). Records are blank-line separated `X:value` lines: P name, V version, A arch,
// o origin (the source package, built at the same version).
import type { BufferScanner, FoundPackage } from './types.js';

export function parseApkInstalled(text: string): FoundPackage[] {
  const out: FoundPackage[] = [];
  const flush = (rec: Map<string, string>) => {
    const name = rec.get('P');
    const version = rec.get('V');
    if (!name || !version) return;
    const pkg: FoundPackage = { name, version, kind: 'binary', ecosystem: 'apk' };
    const origin = rec.get('o');
    pkg.source = { name: origin || name, version };
    const arch = rec.get('A');
    if (arch) pkg.arch = arch;
    out.push(pkg);
  };
  let rec = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      if (rec.size) flush(rec);
      rec = new Map();
      continue;
    }
    if (line.length >= 2 && line[1] === ':' && !rec.has(line[0])) rec.set(line[0], line.slice(2));
  }
  if (rec.size) flush(rec);
  return out;
}

export const apkScanner: BufferScanner = {
  name: 'apk',
  version: 1,
  kind: 'package',
  input: 'buffer',
  maxBytes: 32 * 1024 * 1024,
  claims: (p) => p === 'lib/apk/db/installed' || p === 'usr/lib/apk/db/installed',
  scan: (data) => ({ packages: parseApkInstalled(data.toString('utf8')) }),
};
