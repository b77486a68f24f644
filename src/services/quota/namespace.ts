// Which namespace a repository's usage counts toward, and the SQL predicate that picks a namespace's repositories.
import { sql, type RawBuilder } from 'kysely';

/** The namespace of a repository name: its first path component (Quay's namespace). */
export function namespaceOfRepository(name: string): string {
  const i = name.indexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

/** `repository.name` (under the given alias) starts with "<namespace>/": portable, no LIKE wildcards. */
export function inNamespace(alias: string, namespace: string): RawBuilder<boolean> {
  const prefix = `${namespace}/`;
  return sql<boolean>`substr(${sql.ref(`${alias}.name`)}, 1, ${prefix.length}) = ${prefix}`;
}
