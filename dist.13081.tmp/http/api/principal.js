import { AccountError } from "../../services/accounts/errors.js";
import { CSRF_HEADER } from "../../services/accounts/principals.js";
import { parseAuthorization } from "../auth/credentials.js";
import { ApiError } from "./errors.js";
import "../principal.js";
const SESSION_COOKIE = "berth_session";
function readCookie(req, name) {
  const raw = req.headers.cookie;
  if (!raw || raw.length > 8192) return void 0;
  for (const part of raw.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return void 0;
}
function apiPrincipalHook(accounts) {
  return async (req) => {
    const credentials = parseAuthorization(req.headers.authorization);
    try {
      const r = await accounts.principals.forApi({
        credentials,
        sessionCookie: readCookie(req, SESSION_COOKIE),
        address: req.ip,
        changes: !["GET", "HEAD", "OPTIONS"].includes(req.method),
        csrf: header(req, CSRF_HEADER)
      });
      req.principal = r.principal;
      if (r.sessionCsrf) req.sessionCsrf = r.sessionCsrf;
    } catch (e) {
      if (e instanceof AccountError) {
        if (credentials.scheme === "malformed") req.log.warn({ event: "api_auth_refused", ip: req.ip, reason: credentials.reason }, "API request refused");
        if (credentials.scheme === "basic") req.log.warn({ event: "login_failed", account: credentials.username.slice(0, 64), ip: req.ip, reason: e.message }, "login failed");
        if (credentials.scheme === "bearer") req.log.warn({ event: "api_token_refused", ip: req.ip }, "API bearer token refused");
      }
      throw e;
    }
  };
}
function header(req, name) {
  const v = req.headers[name];
  return Array.isArray(v) ? void 0 : v;
}
function requireSignedIn(p) {
  if (p.kind === "anonymous") throw new ApiError(401, "sign in first (session, app token, or Basic credentials)");
  return p;
}
function requireUserCaller(p) {
  const signedIn = requireSignedIn(p);
  if (signedIn.kind !== "user") throw new ApiError(403, "robot accounts cannot use this operation");
  return signedIn;
}
function deny(p, message) {
  return new ApiError(p.kind === "anonymous" ? 401 : 403, message);
}
function sendJson(reply, status, body) {
  return reply.code(status).header("Content-Type", "application/json").send(JSON.stringify(body));
}
export {
  CSRF_HEADER,
  SESSION_COOKIE,
  apiPrincipalHook,
  deny,
  readCookie,
  requireSignedIn,
  requireUserCaller,
  sendJson
};
//# sourceMappingURL=principal.js.map
