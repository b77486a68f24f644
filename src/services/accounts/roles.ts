// Repository roles (read < write < admin) and the facts of a repository that access decisions use (pure).
import type { RepoRole } from '../../db/types.js';

export const REPO_ROLES: readonly RepoRole[] = ['read', 'write', 'admin'];
const RANK: Record<RepoRole, number> = { read: 1, write: 2, admin: 3 };

export function maxRole(...roles: (RepoRole | undefined)[]): RepoRole | undefined {
  let best: RepoRole | undefined;
  for (const r of roles) if (r && (!best || RANK[r] > RANK[best])) best = r;
  return best;
}

export function atLeast(role: RepoRole | undefined, needed: RepoRole): boolean {
  return !!role && RANK[role] >= RANK[needed];
}

export interface RepoFacts {
  id: number;
  name: string;
  namespace_id: number | null;
  visibility: 'public' | 'private';
}

export function namespaceOf(repository: string): string {
  return repository.split('/')[0];
}
