import path from "node:path";
function authSettings(config) {
  const r = config.raw;
  const baseUrl = `${config.urlScheme}://${config.serverHostname}`;
  const tls = r.TLS_CERT_FILE && r.TLS_KEY_FILE ? { certFile: path.resolve(r.TLS_CERT_FILE), keyFile: path.resolve(r.TLS_KEY_FILE), httpListen: r.HTTP_LISTEN } : void 0;
  return {
    open: r.AUTHENTICATION_TYPE === "None",
    superUsers: new Set(r.SUPER_USERS),
    anonymousAccess: r.FEATURE_ANONYMOUS_ACCESS,
    privateOnPush: r.CREATE_PRIVATE_REPO_ON_PUSH,
    appTokens: r.FEATURE_APP_SPECIFIC_TOKENS,
    userCreation: r.FEATURE_USER_CREATION,
    pbkdf2Iterations: r.PBKDF2_ITERATIONS,
    tokenSeconds: r.TOKEN_EXPIRATION_SECONDS,
    signingAlgorithm: r.TOKEN_SIGNING_ALGORITHM,
    keyRotationMs: r.TOKEN_KEY_ROTATION_DAYS * 864e5,
    sessionSeconds: r.SESSION_EXPIRATION_SECONDS,
    loginFailureLimit: r.LOGIN_FAILURE_LIMIT,
    loginBackoffMs: r.LOGIN_BACKOFF_SECONDS * 1e3,
    service: config.serverHostname,
    serviceFromRequest: !config.serverHostnameSet,
    realm: `${baseUrl}/v2/auth`,
    baseUrl,
    tls
  };
}
export {
  authSettings
};
//# sourceMappingURL=auth.js.map
