import { sendJson } from "./principal.js";
const charts = async ({ reply, params: { name }, principal, deps: { accounts, artifacts } }) => {
  await accounts.repos.requireAccess(principal, name, "read");
  return sendJson(reply, 200, await artifacts.charts(name));
};
const manifest = async ({ reply, params: { name, digest }, principal, deps: { accounts, artifacts } }) => {
  await accounts.repos.requireAccess(principal, name, "read");
  return sendJson(reply, 200, await artifacts.manifest(name, digest));
};
export {
  charts,
  manifest
};
//# sourceMappingURL=artifacts.js.map
