// Repository name and tag grammar from the OCI distribution spec.
import { RegistryError } from './errors.js';

const NAME_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME_RE = new RegExp(`^${NAME_COMPONENT}(?:/${NAME_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
export const MAX_NAME_LENGTH = 255;

export function isValidRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_RE.test(name);
}

export function requireRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new RegistryError(
      'NAME_INVALID',
      `invalid repository name "${name.slice(0, 300)}": lowercase letters, digits and separators (. _ __ -) in path components joined by "/", at most ${MAX_NAME_LENGTH} characters`,
      { name: name.slice(0, 300) },
    );
  }
  return name;
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

export function requireTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryError(
      'MANIFEST_INVALID',
      `invalid tag "${tag.slice(0, 200)}": at most 128 characters of [A-Za-z0-9_.-], not starting with "." or "-"`,
      { tag: tag.slice(0, 200) },
    );
  }
  return tag;
}
