// The matcher's vocabulary: a Matcher is a tiny plug-in with one job (claircore's shape): for one
// kind of package, say which advisories to look up (ecosystem, distribution release, names) and
// which installed version each name is compared with. Version comparison itself is the versions
// module's `check()`, and only a definite 'affected' is reported.
import type { Distribution, Package } from '../indexer/types.js';
import type { AdvisoryEcosystem, DistributionRef, Severity } from '../model.js';

export interface Lookup {
  /** The name advisories are filed under (binary name, source name, origin, module path...). */
  name: string;
  /** The installed version to compare for that name (a source package's version for its name). */
  version: string;
}

export interface Matcher {
  /** Unique, stable name. */
  readonly name: string;
  /** The version scheme its advisories are written in. */
  readonly ecosystem: AdvisoryEcosystem;
  /** True for the packages this matcher handles. */
  handles(pkg: Package): boolean;
  /**
   * The advisory distribution release for an image's distribution: null for language packages
   * (not tied to a distribution), undefined when this matcher has no data for that distribution
   * (its packages are then reported as unmatched, never guessed at).
   */
  distribution(dist: Distribution | undefined): DistributionRef | null | undefined;
  /**
   * The version scheme to compare with for that release when it is not `ecosystem` itself (apk:
   * apk-tools 2.x's order up to Alpine 3.22, 3.x's after).
   */
  versionScheme?(dist: DistributionRef | null): string;
  /** The names (with versions) to look the package up by. */
  lookups(pkg: Package): Lookup[];
}

export interface Vulnerability {
  id: string;
  aliases: string[];
  severity: Severity;
  links: string[];
  description: string;
  /** The first version that fixes it for the installed version's line; null when there is no fix. */
  fixedIn: string | null;
  updater: string;
  /** The advisory's package name (the source package for a binary matched by its source). */
  package: string;
  severityVector?: string;
  score?: number;
}

export interface PackageReport {
  package: Package;
  /** The matcher that handled it; undefined when no matcher does (unsupported package kind). */
  matcher?: string;
  vulnerabilities: Vulnerability[];
}

export interface MatchReport {
  /** One entry per input package, in input order. */
  packages: PackageReport[];
  /** Comparisons that could not be decided (invalid version or bound): not reported as vulnerable. */
  unknown: Array<{ package: string; version: string; id: string; reason: string }>;
  /** Matchers that had no data for the image's distribution, with the package count they skipped. */
  unsupported: Array<{ matcher: string; packages: number; distribution?: string }>;
}
