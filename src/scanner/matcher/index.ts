// The matcher: packages (from the indexer) and the image's distribution in, vulnerabilities per
// package out.
//
// `matchers` is the one list of plug-ins (./types.ts): adding a package kind is one module and
// one line. For each matcher, the names its packages are looked up by go to the store in a few
// indexed queries (ecosystem, distribution release, names) that return each name's distinct ranges;
// each is checked once per installed version with the versions module, and only the advisories of
// ranges that apply (or cannot be decided) are then read in full. Only a definite 'affected' is
// reported: an invalid version or bound ('unknown') is listed in `unknown`, never as a
// vulnerability, because a guess is exactly the false positive Clair users complain about.
// The same vulnerability found twice for one package (from two updaters, or under an id and its
// alias: GHSA-… and PYSEC-… for the same CVE) is reported once, with the aliases merged.
import type { Distribution, Package } from '../indexer/types.js';
import { lookupName, type Advisory, type AdvisoryEcosystem } from '../model.js';
import type { AdvisoryStore, GroupMember, RangeGroup } from '../store.js';
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
export function evaluate(version: string, a: Pick<Advisory, 'ranges' | 'versions'> & { ecosystem: string }): Verdict {
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
export function fixedFor(version: string, a: Advisory, ecosystem: string = a.ecosystem): string | null {
  const scheme = getScheme(ecosystem);
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

function toVulnerability(a: Advisory, version: string, ecosystem: string): Vulnerability {
  const v: Vulnerability = {
    id: a.id,
    aliases: [...a.aliases],
    severity: a.severity,
    links: [...a.links],
    description: a.description,
    fixedIn: fixedFor(version, a, ecosystem),
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
const byIdThenUpdater = (a: GroupMember, b: GroupMember): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : a.updater < b.updater ? -1 : a.updater > b.updater ? 1 : 0;

function verdicts(ecosystem: string): (version: string, rangesText: string) => Verdict {
  const memo = new Map<string, Map<string, Verdict>>();
  return (version, rangesText) => {
    let byVersion = memo.get(rangesText);
    if (!byVersion) {
      byVersion = new Map();
      memo.set(rangesText, byVersion);
    }
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
    if (!g) {
      g = [];
      groups.set(m, g);
    }
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
    // Step 1: the distinct ranges per name, each decided once per installed version.
    const q = { ecosystem: m.ecosystem, distribution: dist };
    const groups = await store.rangeGroups({ ...q, packages: [...names] });
    const rangesOf = new Map<string, string[]>();
    for (const g of groups) {
      let l = rangesOf.get(g.package);
      if (!l) {
        l = [];
        rangesOf.set(g.package, l);
      }
      l.push(g.ranges);
    }
    // The version order of that release (apk-tools 2.x up to Alpine 3.22, 3.x after).
    const scheme = m.versionScheme?.(dist) ?? m.ecosystem;
    const decide = verdicts(scheme);
    const wanted = new Map<string, RangeGroup>();
    for (const { lookups } of items) {
      for (const l of lookups) {
        const name = lookupName(m.ecosystem, l.name);
        for (const ranges of rangesOf.get(name) ?? []) {
          const v = decide(l.version, ranges);
          if (v.affected || v.unknown) wanted.set(`${name}\u0000${ranges}`, { package: name, ranges });
        }
      }
    }
    // Step 2: the advisories of those groups only, full records, in a deterministic order per name (id, then updater).
    const members = new Map<string, GroupMember[]>();
    for (const a of await store.inGroups(q, [...wanted.values()])) {
      let l = members.get(a.package);
      if (!l) {
        l = [];
        members.set(a.package, l);
      }
      l.push(a);
    }
    for (const l of members.values()) l.sort(byIdThenUpdater);
    for (const { r, lookups } of items) {
      const seen = new Set<GroupMember>();
      for (const l of lookups) {
        for (const a of members.get(lookupName(m.ecosystem, l.name)) ?? []) {
          if (seen.has(a)) continue;
          const v = decide(l.version, a.ranges);
          if (v.affected) {
            seen.add(a);
            addMerged(r.vulnerabilities, toVulnerability(a.advisory, l.version, scheme));
          } else if (v.unknown) {
            report.unknown.push({ package: r.package.name, version: l.version, id: a.id, reason: v.unknown });
          }
        }
      }
    }
  }
  return report;
}
