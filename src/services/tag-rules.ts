// Immutable tags: a repository's rules (Quay's immutability policies: a regular expression matched from the
// start of the tag name, and whether matching or non-matching tags are immutable), pattern validation, and the
// check every tag write makes in its transaction. Rules are evaluated at each write: removing a rule makes its
// tags mutable again.
import type { Kysely } from 'kysely';
import { RegistryError } from '../oci/errors.js';
import { activeTag } from './tag-expiry.js';
import type { Database } from '../db/types.js';
import { prepared } from '../db/prepared.js';
import type {} from '../db/types-tag-policy.js';

type Tx = Kysely<Database>;

export interface ImmutabilityRule {
  uuid: string;
  tagPattern: string;
  tagPatternMatches: boolean;
}

/** What was refused: a push over the tag, a move or restore onto it, a delete, an expiration. */
export type ImmutableAction = 'overwrite' | 'move' | 'delete' | 'expire';

const VERB: Record<ImmutableAction, string> = {
  overwrite: 'cannot be overwritten with another manifest',
  move: 'cannot be moved to another manifest',
  delete: 'cannot be deleted',
  expire: 'cannot be given an expiration',
};

/** A write refused because the tag is immutable; /v2 answers DENIED, /api/v1 409 tag_immutable. */
export class TagImmutableError extends Error {
  constructor(
    readonly tag: string,
    readonly rule: ImmutabilityRule,
    readonly action: ImmutableAction,
  ) {
    super(
      `tag "${tag}" is immutable (rule ${rule.uuid}: tags ${rule.tagPatternMatches ? 'matching' : 'not matching'} ` +
        `/${rule.tagPattern}/) and ${VERB[action]}`,
    );
  }
}

/** A pattern that is refused (bad syntax, too long, nested quantifiers): the message says why. */
export class BadTagPattern extends Error {}

export const MAX_PATTERN_LENGTH = 256;

/**
 * Compiles a rule's pattern as Quay applies it (Python's re.match: anchored at the start of the name, not at
 * the end). Refuses what is not a JavaScript regular expression, and patterns with a quantified group that
 * itself contains a quantifier (such as (a+)+), whose matching time can explode on a 128-character name.
 */
export function compileTagPattern(pattern: string): RegExp {
  if (pattern.length === 0) throw new BadTagPattern('tagPattern must be a non-empty regular expression');
  if (pattern.length > MAX_PATTERN_LENGTH) throw new BadTagPattern(`tagPattern must be ${MAX_PATTERN_LENGTH} characters or less`);
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})`);
  } catch (e) {
    throw new BadTagPattern(
      `tagPattern is not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}`,
    );
  }
  if (nestedQuantifier(pattern))
    throw new BadTagPattern('tagPattern has a repeated group that itself repeats (such as (a+)+); write it without the nesting');
  if (/\\[1-9]|\\k</.test(pattern)) throw new BadTagPattern('tagPattern may not use back-references');
  return re;
}

/** True when a group that contains a quantifier is itself quantified (star height above one). */
function nestedQuantifier(p: string): boolean {
  const stack: boolean[] = []; // per open group: contains a quantifier
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === ')') {
      const inner = stack.pop() ?? false;
      const next = p[i + 1];
      const quantified = next === '*' || next === '+' || next === '?' || next === '{';
      if (inner && quantified && next !== '?') return true;
      if (inner || quantified) if (stack.length) stack[stack.length - 1] = true;
    } else if ((c === '*' || c === '+' || c === '{') && stack.length) stack[stack.length - 1] = true;
  }
  return false;
}

export function ruleApplies(rule: ImmutabilityRule, tag: string): boolean {
  let matches: boolean;
  try {
    matches = compileTagPattern(rule.tagPattern).test(tag);
  } catch {
    return false;
  }
  return rule.tagPatternMatches ? matches : !matches;
}

// Every tag write reads them (compiled once, ../db/prepared.ts).
const rulesOfRepository = prepared(1, (db: Tx, repositoryId: number) =>
  db
    .selectFrom('tag_immutability_rule')
    .select(['uuid', 'tag_pattern', 'tag_pattern_matches'])
    .where('repository_id', '=', repositoryId)
    .orderBy('id'),
);

export async function rulesOf(db: Tx, repositoryId: number): Promise<ImmutabilityRule[]> {
  const { rows } = await rulesOfRepository(db, repositoryId);
  return rows.map((r) => ({ uuid: r.uuid, tagPattern: r.tag_pattern, tagPatternMatches: Number(r.tag_pattern_matches) === 1 }));
}

/** The first rule that makes `tag` immutable, if any. */
export function immutableBy(rules: ImmutabilityRule[], tag: string): ImmutabilityRule | undefined {
  return rules.find((r) => ruleApplies(r, tag));
}

/** Throws TagImmutableError when a rule of the repository makes `tag` immutable. */
export async function requireMutable(db: Tx, repositoryId: number, tag: string, action: ImmutableAction): Promise<void> {
  const rule = immutableBy(await rulesOf(db, repositoryId), tag);
  if (rule) throw new TagImmutableError(tag, rule, action);
}

/** The /v2 form of a refusal: DENIED (403), naming the rule. */
export function deniedIfImmutable(e: unknown): never {
  if (e instanceof TagImmutableError)
    throw new RegistryError('DENIED', e.message, { tag: e.tag, rule: e.rule.uuid, tagPattern: e.rule.tagPattern });
  throw e;
}

/** Throws TagImmutableError when an alive tag on the manifest `digest` is immutable (deleting it would delete the tag). */
export async function requireMutableManifest(db: Tx, repositoryId: number, digest: string, now: number): Promise<void> {
  const rules = await rulesOf(db, repositoryId);
  if (!rules.length) return;
  const tags = await db
    .selectFrom('tag')
    .innerJoin('manifest', 'manifest.id', 'tag.manifest_id')
    .select('tag.name')
    .where('tag.repository_id', '=', repositoryId)
    .where('manifest.digest', '=', digest)
    .where(activeTag(now))
    .execute();
  for (const t of tags) {
    const rule = immutableBy(rules, t.name);
    if (rule) throw new TagImmutableError(t.name, rule, 'delete');
  }
}
