import { ChartError } from "./errors.js";
const REPO = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const versionToTag = (v) => v.replace(/\+/g, "_");
const tagToVersion = (t) => t.replace(/_/g, "+");
function parseRef(raw) {
  let s = raw.replace(/^oci:\/\//, "");
  let digest;
  const at = s.lastIndexOf("@");
  if (at >= 0) {
    digest = s.slice(at + 1);
    s = s.slice(0, at);
  }
  const slash = s.indexOf("/");
  if (slash <= 0) throw new ChartError(`invalid reference "${raw}": expected host[:port]/repository[:tag], for example localhost:5000/helm/mychart:0.1.0`);
  const registry = s.slice(0, slash);
  let rest = s.slice(slash + 1);
  let tag;
  const colon = rest.lastIndexOf(":");
  if (colon >= 0) {
    tag = versionToTag(rest.slice(colon + 1));
    rest = rest.slice(0, colon);
  }
  if (!REPO.test(rest)) throw new ChartError(`invalid reference "${raw}": repository "${rest}" must be lowercase letters, digits and separators (. _ -) joined by /`);
  if (tag !== void 0 && !TAG.test(tag)) throw new ChartError(`invalid reference "${raw}": tag "${tag}" is not a valid tag`);
  if (digest !== void 0 && !/^[a-z0-9]+:[a-f0-9]{32,}$/.test(digest)) throw new ChartError(`invalid reference "${raw}": bad digest "${digest}"`);
  return { registry, repository: rest, tag, digest };
}
function refString(r) {
  return `${r.registry}/${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
}
export {
  parseRef,
  refString,
  tagToVersion,
  versionToTag
};
//# sourceMappingURL=reference.js.map
