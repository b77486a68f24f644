// Matching on demand: an indexed manifest's packages x the advisory store, cached per manifest while the
// advisory data is unchanged (at most matchCacheMs), so an updater import invalidates it.
import { match } from './matcher/index.js';
import type { MatchReport } from './matcher/types.js';
import type { AdvisoryStore } from './store.js';
import type { ReportStore } from './report-store.js';
import type { RemoteScanner } from './remote.js';
import { toClairVulnerabilityReport, type ClairVulnerabilityReport, type StoredIndex } from './clair.js';

const MAX_CACHED = 500;

export class MatchService {
  private readonly cache = new Map<string, { version: string; at: number; report: MatchReport }>();
  private dataSeenAt?: number;

  constructor(
    private readonly advisories: AdvisoryStore,
    private readonly reports: ReportStore,
    private readonly opts: { now: () => number; matchCacheMs?: number; remote?: RemoteScanner },
  ) {}

  /** Drops a manifest's cached match (its report changed or went). */
  forget(digest: string): void {
    this.cache.delete(digest);
  }

  clear(): void {
    this.cache.clear();
  }

  /** Matches a stored index now (cached while the data is unchanged, at most matchCacheMs). */
  async matchReport(s: StoredIndex): Promise<MatchReport> {
    const version = await this.advisories.dataVersion();
    const hit = this.cache.get(s.manifest);
    const ttl = this.opts.matchCacheMs ?? 60_000;
    if (hit && hit.version === version && this.opts.now() - hit.at < ttl) return hit.report;
    const report = await match(this.advisories, s.packages, s.distribution);
    if (this.cache.size > MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(s.manifest, { version, at: this.opts.now(), report });
    return report;
  }

  /**
   * Whether any advisory data is loaded (undefined with an external scanner, which keeps its own). A report
   * matched against no data at all must not read as "no known vulnerabilities"; the security API says so.
   */
  async hasVulnerabilityData(): Promise<boolean | undefined> {
    if (this.opts.remote) return undefined;
    // Only "there is data" is remembered (30 s): the answer "none" is read again each time (a few rows), so a
    // first import shows at once.
    const now = this.opts.now();
    if (this.dataSeenAt !== undefined && now - this.dataSeenAt < 30_000) return true;
    const has = (await this.advisories.updaterStatus()).some((u) => u.records > 0);
    this.dataSeenAt = has ? now : undefined;
    return has;
  }

  async vulnerabilityReport(digest: string): Promise<ClairVulnerabilityReport | undefined> {
    const s = await this.reports.get(digest);
    if (!s) return undefined;
    if (this.opts.remote && s.state === 'indexed') return this.opts.remote.vulnerabilityReport(digest);
    return toClairVulnerabilityReport(s, await this.matchReport(s));
  }
}
