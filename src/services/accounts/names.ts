// Name rules for namespaces (users, organizations), robots and teams. A namespace name is also the
// first path component of repository names, so it follows the OCI name-component grammar.
import { invalid } from './errors.js';

const NAMESPACE_RE = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const ROBOT_SHORT_RE = /^[a-z][a-z0-9_]{0,63}$/;
const TEAM_RE = /^[a-z][a-z0-9_]{0,63}$/;
const EMAIL_RE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
export const MAX_PASSWORD_BYTES = 1024;

const show = (s: string) => JSON.stringify(s.slice(0, 80));

export function requireNamespaceName(name: string, what = 'name'): string {
  if (name.length < 2 || name.length > 255 || !NAMESPACE_RE.test(name)) {
    throw invalid(`${what} ${show(name)} is not valid: 2 to 255 lowercase letters and digits, separated by ".", "_", "__" or "-"`);
  }
  return name;
}

export function requireRobotShortName(short: string): string {
  if (!ROBOT_SHORT_RE.test(short))
    throw invalid(`robot name ${show(short)} is not valid: a lowercase letter, then up to 63 lowercase letters, digits or "_"`);
  return short;
}

export function requireTeamName(name: string): string {
  if (!TEAM_RE.test(name))
    throw invalid(`team name ${show(name)} is not valid: a lowercase letter, then up to 63 lowercase letters, digits or "_"`);
  return name;
}

export function requireEmail(email: string): string {
  if (!EMAIL_RE.test(email)) throw invalid(`email ${show(email)} is not a valid address`);
  return email;
}

export function requirePassword(password: string): string {
  if (password.length < 8) throw invalid('the password must have at least 8 characters');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw invalid(`the password must have at most ${MAX_PASSWORD_BYTES} bytes`);
  return password;
}

/** Splits "owner+short" into its parts, or undefined when the name is not a robot name. */
export function splitRobotName(name: string): { owner: string; short: string } | undefined {
  const i = name.indexOf('+');
  if (i <= 0) return undefined;
  return { owner: name.slice(0, i), short: name.slice(i + 1) };
}
