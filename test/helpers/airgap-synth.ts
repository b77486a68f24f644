// Writes a large synthetic air-gap bundle through the real exporter (run as a child process by
// test/scanner-airgap.test.ts, which measures its peak RSS).
//   node --import tsx test/helpers/airgap-synth.ts <out.gz> <updaters> <records-per-updater> <description-bytes> [variant]
import { exportBundle, type ExportSource } from '../../src/scanner/bundle/export.ts';
import type { Advisory } from '../../src/scanner/model.ts';

const [out, nUpd, nRec, descBytes, variant = 'a'] = process.argv.slice(2);
const filler = Array.from({ length: 64 }, (_, i) => `word${(i * 7919) % 1000} `).join('');

async function* records(u: number): AsyncGenerator<Advisory> {
  const n = Number(nRec);
  for (let i = 0; i < n; i++) {
    const d = filler.repeat(Math.ceil(Number(descBytes) / filler.length) + 1).slice(i % 97, (i % 97) + Number(descBytes));
    yield {
      updater: `synth-${u}`,
      id: `CVE-2024-${String(i).padStart(6, '0')}`,
      aliases: [`GHSA-${u}-${i}`],
      ecosystem: 'dpkg',
      distribution: { id: 'debian', versionId: '12' },
      package: `pkg-${i % 5000}`,
      packageKind: 'source',
      ranges: [[{ introduced: '0' }, { fixed: `1.${i}.${variant === 'a' ? 0 : i % 3}` }]],
      fixedIn: `1.${i}.${variant === 'a' ? 0 : i % 3}`,
      severity: 'Medium',
      links: [`https://example.invalid/${i}`],
      description: d,
    };
  }
}

const sources: ExportSource[] = Array.from({ length: Number(nUpd) }, (_, u) => ({
  name: `synth-${u}`,
  fingerprint: `synth-${u}-${variant}`,
  records: records(u),
}));
const r = await exportBundle(out, sources);
process.stdout.write(`${JSON.stringify({ bytes: r.bytes, lines: r.lines, maxRss: process.resourceUsage().maxRSS })}\n`);
