// The matcher: packages (from the indexer) and the image's distribution in, vulnerabilities per
// package out.
//
// `matchers` is the one list of plug-ins (./types.ts): adding a package kind is one module and
// one line. For each matcher, every name its packages are looked up by is fetched from the store in
// a few indexed queries (ecosystem, distribution release, names), then each candidate advisory is
// checked against the installed version with the versions module. Only a definite 'affected' is
// reported: an invalid version or bound ('unknown') is listed in `unknown`, never as a
// vulnerability, because a guess is exactly the false positive Clair users complain about.
// The same vulnerability found twice for one package (from two updaters, or under an id and its
// alias: GHSA-… and PYSEC-… for the same CVE) is reported once, with the aliases merged.
import type { Distribution, Package } from '../indexer/types.js';
import { lookupName, type Advisory, type AdvisoryEcosystem } from '../model.js';
import { refKey, type AdvisoryStore, type CandidateRef } from '../store.js';
import { check, getScheme } from '../versions/index.js';
import { apkMatcher } from './apk.js';
import { debMatcher } from './deb.js';
import { goMatcher, mavenMatcher, npmMatcher, pypiMatcher } from './language.js';
import { rpmMatcher } from './rpm.js';
import type { Lookup, MatchReport, Matcher, PackageReport, Vulnerability } from './types.js';

export type { Lookup, MatchReport, Matcher, PackageReport, Vulnerability } from './types.js';

/** The one list. */
export const matchers: readonly Matcher[] = [debMatcher, apkMatcher, rpmMatcher, pypiMatcher, npmMatcher, goMatcher, mavenMatcher];

export interface Verdict {
  affected: boolean;
  /** Set when some range could not be evaluated and none said 'affected'. */
  unknown?: string;
}

/** Is `version` affected by the advisory? Ranges first (any one suffices), then listed versions. */
export function evaluate(version: string, a: Pick<Advisory, 'ranges' | 'versions' | 'ecosystem'>): Verdict {
  let unknown: string | undefined;
  for (const r of a.ranges) {
    const c = check(version, r, a.ecosystem);
    if (c.verdict === 'affected') return { affected: true };
    if (c.verdict === 'unknown') unknown ??= c.reason;
  }
  if (a.versions?.length) {
    const scheme = getScheme(a.ecosystem);
    if (!scheme.valid(version)) unknown ??= `"${version}" is not a valid ${scheme.name} version`;
    else if (a.versions.some((v) => scheme.valid(v) && scheme.compare(v, version) === 0)) return { affected: true };
  }
  return unknown ? { affected: false, unknown } : { affected: false };
}

/** The lowest `fixed` bound above the installed version: the version to upgrade to. */
export function fixedFor(version: string, a: Advisory): string | null {
  const scheme = getScheme(a.ecosystem);
  let best: string | null = null;
  for (const r of a.ranges) {
    for (const e of r) {
      if (!('fixed' in e) || !scheme.valid(e.fixed)) continue;
      if (scheme.compare(e.fixed, version) <= 0) continue;
      if (best === null || scheme.compare(e.fixed, best) < 0) best = e.fixed;
    }
  }
  return best;
}

function toVulnerability(a: Advisory, version: string): Vulnerability {
  const v: Vulnerability = {
    id: a.id,
    aliases: [...a.aliases],
    severity: a.severity,
    links: [...a.links],
    description: a.description,
    fixedIn: fixedFor(version, a),
    updater: a.updater,
    package: a.package,
  };
  if (a.severityVector) v.severityVector = a.severityVector;
  if (a.score !== undefined) v.score = a.score;
  return v;
}

/** Adds `v` to the list, or merges it into an entry for the same vulnerability (same id or alias). */
function addMerged(list: Vulnerability[], v: Vulnerability): void {
  const names = new Set([v.id, ...v.aliases]);
  const same = list.find((x) => names.has(x.id) || x.aliases.some((al) => names.has(al)));
  if (!same) {
    list.push(v);
    return;
  }
  for (const n of names) if (n !== same.id && !same.aliases.includes(n)) same.aliases.push(n);
  for (const l of v.links) if (!same.links.includes(l)) same.links.push(l);
  if (same.severity === 'Unknown') same.severity = v.severity;
  if (!same.description) same.description = v.description;
  if (!same.severityVector && v.severityVector) {
    same.severityVector = v.severityVector;
    if (v.score !== undefined) same.score = v.score;
  }
  if (same.fixedIn === null) same.fixedIn = v.fixedIn;
}

/**
 * evaluate() over the store's `[ranges, versions]` text, remembered per (text, installed version)
 * for one match: advisories of one package often share their ranges (one fix for many CVEs), and the
 * answer depends on nothing else.
 */
const byIdThenUpdater = (a: CandidateRef, b: CandidateRef): number =>
  (a.id < b.id ? -1 : a.id > b.id ? 1 : a.updater < b.updater ? -1 : a.updater > b.updater ? 1 : 0);

function verdicts(ecosystem: AdvisoryEcosystem): (version: string, rangesText: string) => Verdict {
  const memo = new Map<string, Map<string, Verdict>>();
  return (version, rangesText) => {
    let byVersion = memo.get(rangesText);
    if (!byVersion) memo.set(rangesText, (byVersion = new Map()));
    let v = byVersion.get(version);
    if (!v) {
      const [ranges, versions] = JSON.parse(rangesText) as [Advisory['ranges'], string[] | null];
      v = evaluate(version, { ranges, ecosystem, ...(versions ? { versions } : {}) });
      byVersion.set(version, v);
    }
    return v;
  };
}

export interface MatchOptions {
  /** The matchers to use (default: all). */
  matchers?: readonly Matcher[];
}

/** Matches packages against the store's advisories. */
export async function match(
  store: AdvisoryStore,
  packages: readonly Package[],
  distribution: Distribution | undefined,
  opts: MatchOptions = {},
): Promise<MatchReport> {
  const list = opts.matchers ?? matchers;
  const report: MatchReport = {
    packages: packages.map((p) => ({ package: p, vulnerabilities: [] })),
    unknown: [],
    unsupported: [],
  };
  const groups = new Map<Matcher, Array<{ r: PackageReport; lookups: Lookup[] }>>();
  for (const r of report.packages) {
    const m = list.find((x) => x.handles(r.package));
    if (!m) continue;
    r.matcher = m.name;
    let g = groups.get(m);
    if (!g) groups.set(m, (g = []));
    g.push({ r, lookups: m.lookups(r.package) });
  }
  for (const [m, items] of groups) {
    const dist = m.distribution(distribution);
    if (dist === undefined) {
      const d = distribution ? `${distribution.id}${distribution.version_id ? ` ${distribution.version_id}` : ''}` : undefined;
      report.unsupported.push({ matcher: m.name, packages: items.length, ...(d ? { distribution: d } : {}) });
      continue;
    }
    const names = new Set<string>();
    for (const it of items) for (const l of it.lookups) names.add(l.name);
    // Step 1: identities and ranges only; step 2 below reads full records for the hits alone.
    const candidates = await store.candidateRanges({ ecosystem: m.ecosystem, distribution: dist, packages: [...names] });
    const byName = new Map<string, CandidateRef[]>();
    for (const a of candidates) {
      let l = byName.get(a.package);
      if (!l) byName.set(a.package, (l = []));
      l.push(a);
    }
    // Deterministic order per name: by id, then updater (the store answers in that order, so this only checks).
    for (const l of byName.values()) l.sort(byIdThenUpdater);
    const hits: Array<{ r: PackageReport; a: CandidateRef; version: string }> = [];
    const decide = verdicts(m.ecosystem);
    for (const { r, lookups } of items) {
      const seen = new Set<CandidateRef>();
      for (const l of lookups) {
        for (const a of byName.get(lookupName(m.ecosystem, l.name)) ?? []) {
          if (seen.has(a)) continue;
          const v = decide(l.version, a.ranges);
          if (v.affected) {
            seen.add(a);
            hits.push({ r, a, version: l.version });
          } else if (v.unknown) {
            report.unknown.push({ package: r.package.name, version: l.version, id: a.id, reason: v.unknown });
          }
        }
      }
    }
    const full = await store.byKeys(hits.map((h) => h.a));
    for (const { r, a, version } of hits) {
      const advisory = full.get(refKey(a.updater, a.key));
      if (advisory) addMerged(r.vulnerabilities, toVulnerability(advisory, version));
    }
  }
  return report;
}
