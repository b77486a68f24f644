// A manifest's vulnerability set as the re-matcher stores it (scan_vulnset) and the notifier diffs it.
import type { MatchReport } from './matcher/types.js';
import type { Severity } from './model.js';

/** What a re-match changed for one manifest. */
export interface VulnChange {
  manifest: string;
  added: VulnKey[];
  removed: VulnKey[];
}

/** One (vulnerability, package) finding of a manifest, as the notifier diffs it. */
export interface VulnKey {
  key: string;
  id: string;
  severity: Severity;
  package: string;
  version: string;
  fixedIn: string | null;
  description: string;
  links: string[];
  ecosystem: string;
}

/** The findings of a match report, one per (vulnerability, package), sorted by key. */
export function vulnKeys(report: MatchReport): VulnKey[] {
  const out = new Map<string, VulnKey>();
  for (const pr of report.packages) {
    for (const v of pr.vulnerabilities) {
      const key = `${v.id}|${pr.package.ecosystem}|${pr.package.name}|${pr.package.version}`;
      if (out.has(key)) continue;
      out.set(key, {
        key,
        id: v.id,
        severity: v.severity,
        package: pr.package.name,
        version: pr.package.version,
        fixedIn: v.fixedIn,
        description: v.description.slice(0, 500),
        links: v.links.slice(0, 5),
        ecosystem: pr.package.ecosystem,
      });
    }
  }
  return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** What `after` added to and removed from `before`. */
export function diffVulns(before: readonly VulnKey[], after: readonly VulnKey[]): { added: VulnKey[]; removed: VulnKey[] } {
  const old = new Set(before.map((k) => k.key));
  const current = new Set(after.map((k) => k.key));
  return { added: after.filter((k) => !old.has(k.key)), removed: before.filter((k) => !current.has(k.key)) };
}
