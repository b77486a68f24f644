// Python distributions: `*.dist-info/METADATA` (wheels, pip) and `*.egg-info/PKG-INFO` or a bare
// `*.egg-info` file (setuptools, distutils). Only the header block's Name and Version are read.
import type { BufferScanner } from './types.js';
import { parseHeaderBlock } from './util.js';

const CLAIM = /(?:^|\/)[^/]+(?:\.dist-info\/METADATA|\.egg-info\/PKG-INFO|\.egg-info)$/;

export const pythonScanner: BufferScanner = {
  name: 'python',
  version: 1,
  kind: 'package',
  input: 'buffer',
  maxBytes: 4 * 1024 * 1024,
  // The endsWith tests are what the pattern implies, and cheap: claims() runs for every entry.
  claims: (p) => (p.endsWith('/METADATA') || p.endsWith('/PKG-INFO') || p.endsWith('.egg-info')) && CLAIM.test(p),
  scan(data) {
    const h = parseHeaderBlock(data.toString('utf8'));
    const name = h.get('Name');
    const version = h.get('Version');
    if (!name || !version) return {};
    return { packages: [{ name, version, kind: 'binary', ecosystem: 'pypi' }] };
  },
};
