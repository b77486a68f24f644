// Token scopes: parsing "repository:ns/repo:pull,push" and cutting each request down to what the caller may do.
import type { RepoRole } from '../../db/types.js';
import { isValidRepositoryName } from '../../oci/names.js';
import type { Principal } from './context.js';
import type { AccessEntry } from './tokens.js';
import { namespaceOf, type PermissionService } from './permissions.js';

export const MAX_SCOPES = 32;
const ACTIONS_BY_ROLE: Record<RepoRole, string[]> = {
  read: ['pull'],
  write: ['pull', 'push', 'delete'],
  admin: ['pull', 'push', 'delete', '*'],
};

/** Parses one scope; undefined when it is malformed (it is then simply not granted). */
export function parseScope(scope: string): AccessEntry | undefined {
  if (scope.length > 600) return undefined;
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, '');
  const name = scope.slice(first + 1, last);
  const actions = [
    ...new Set(
      scope
        .slice(last + 1)
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    ),
  ];
  if (!['repository', 'registry'].includes(type) || !actions.length) return undefined;
  return { type, name, actions };
}

export class ScopeService {
  constructor(private readonly perms: PermissionService) {}

  /** What the caller gets for each requested scope: never more than asked, never more than allowed. */
  async grant(p: Principal, requested: string[]): Promise<AccessEntry[]> {
    const out: AccessEntry[] = [];
    for (const raw of requested.slice(0, MAX_SCOPES)) {
      for (const scope of splitScopes(raw)) {
        const s = parseScope(scope);
        if (!s) continue;
        const allowed = await this.allowedActions(p, s);
        const actions = s.actions.filter((a) => allowed.includes(a));
        if (actions.length) out.push({ type: s.type, name: s.name, actions });
      }
    }
    return out;
  }

  private async allowedActions(p: Principal, s: AccessEntry): Promise<string[]> {
    if (s.type === 'registry') return s.name === 'catalog' ? ['*'] : [];
    if (!isValidRepositoryName(s.name)) return [];
    const repo = await this.perms.findRepo(s.name);
    if (repo) {
      const role = await this.perms.role(p, repo);
      return role ? ACTIONS_BY_ROLE[role] : [];
    }
    // A repository that does not exist yet: whoever may create it in that namespace may push (creating it).
    return (await this.perms.canCreateIn(p, namespaceOf(s.name))) ? ['pull', 'push'] : [];
  }
}

/** Some clients join several scopes in one parameter with spaces. */
function splitScopes(raw: string): string[] {
  return raw.split(' ').filter(Boolean);
}
