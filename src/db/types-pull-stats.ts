// Tables of migration 0011_pull_stats (src/db/migrations-pull-stats.ts).
export interface TagPullStatsTable {
  repository_id: number;
  tag_name: string;
  tag_pull_count: number;
  last_tag_pull_date: number;
  current_manifest_digest: string;
}
export interface ManifestPullStatsTable {
  repository_id: number;
  manifest_digest: string;
  manifest_pull_count: number;
  last_manifest_pull_date: number;
}

declare module './types.js' {
  interface Database {
    tag_pull_stats: TagPullStatsTable;
    manifest_pull_stats: ManifestPullStatsTable;
  }
}
