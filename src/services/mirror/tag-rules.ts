// Quay's tag_glob_csv rule: a tag is mirrored when it matches any of the globs, with Python's fnmatch
// syntax (`*` any run of characters, `?` one character, `[abc]` / `[a-z]` / `[!abc]` one of a set).
import { AccountError } from '../accounts/errors.js';

export const MAX_RULES = 100;
const MAX_GLOB = 255;

/** Checks a rule_value list (a non-empty list of non-empty globs); throws a specific 400 otherwise. */
export function requireTagGlobs(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new AccountError('invalid', 'root_rule.rule_value must be a list with at least one tag glob (for example ["latest", "v1.*"])');
  if (value.length > MAX_RULES) throw new AccountError('invalid', `root_rule.rule_value holds at most ${MAX_RULES} globs`);
  const out: string[] = [];
  for (const [i, g] of value.entries()) {
    if (typeof g !== 'string' || g.trim() === '')
      throw new AccountError('invalid', `root_rule.rule_value[${i}] must be a non-empty string`);
    if (g.length > MAX_GLOB) throw new AccountError('invalid', `root_rule.rule_value[${i}] is longer than ${MAX_GLOB} characters`);
    const t = g.trim();
    try {
      globToRegExp(t);
    } catch (e) {
      throw new AccountError('invalid', `root_rule.rule_value[${i}] "${t.slice(0, 100)}" is not a valid glob: ${(e as Error).message}`);
    }
    out.push(t);
  }
  return out;
}

/** fnmatch's translation of one glob into an anchored regular expression. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        re += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, j).replace(/\\/g, '\\\\');
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      else if (set.startsWith('^')) set = `\\${set}`;
      re += `[${set}]`;
      i = j;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** A matcher for a rule: true for the tags to mirror. */
export function tagMatcher(globs: string[]): (tag: string) => boolean {
  const res = globs.map(globToRegExp);
  return (tag) => res.some((r) => r.test(tag));
}
