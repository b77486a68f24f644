// Chart references: host[:port]/repo/path[:tag][@digest], with or without oci://; "+" in a tag becomes "_" (Helm).
import { ChartError } from './errors.js';

export interface ChartRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

const REPO = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;

/** Helm converts "+" (not allowed in OCI tags) to "_" in tags, and back when reading versions from tags. */
export const versionToTag = (v: string) => v.replace(/\+/g, '_');
export const tagToVersion = (t: string) => t.replace(/_/g, '+');

export function parseRef(raw: string): ChartRef {
  let s = raw.replace(/^oci:\/\//, '');
  let digest: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
  }
  const slash = s.indexOf('/');
  if (slash <= 0)
    throw new ChartError(
      `invalid reference "${raw}": expected host[:port]/repository[:tag], for example localhost:5000/helm/mychart:0.1.0`,
    );
  const registry = s.slice(0, slash);
  let rest = s.slice(slash + 1);
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = versionToTag(rest.slice(colon + 1));
    rest = rest.slice(0, colon);
  }
  if (!REPO.test(rest))
    throw new ChartError(
      `invalid reference "${raw}": repository "${rest}" must be lowercase letters, digits and separators (. _ -) joined by /`,
    );
  if (tag !== undefined && !TAG.test(tag)) throw new ChartError(`invalid reference "${raw}": tag "${tag}" is not a valid tag`);
  if (digest !== undefined && !/^[a-z0-9]+:[a-f0-9]{32,}$/.test(digest))
    throw new ChartError(`invalid reference "${raw}": bad digest "${digest}"`);
  return { registry, repository: rest, tag, digest };
}

export function refString(r: ChartRef): string {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
