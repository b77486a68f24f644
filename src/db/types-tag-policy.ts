// Tables and columns of migration 0018_tag_policy (src/db/migrations-tag-policy.ts).
import type { ColumnType, Generated } from 'kysely';

export interface TagImmutabilityRuleTable {
  id: Generated<number>;
  uuid: string;
  repository_id: number;
  /** A regular expression matched from the start of the tag name (as Quay's re.match). */
  tag_pattern: string;
  /** 1: tags the pattern matches are immutable; 0: tags it does not match are. */
  tag_pattern_matches: number;
  created_at: number;
}

declare module './types.js' {
  interface TagTable {
    /** When the tag expires (ms); null or absent: never. An expired row is not a tag (every read filters it). */
    expires_at: ColumnType<number | null, number | null | undefined, number | null>;
  }
  interface Database {
    tag_immutability_rule: TagImmutabilityRuleTable;
  }
}
