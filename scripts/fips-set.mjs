// The test files the FIPS-mode pass of CI runs (BERTH_FIPS=1 npm test): every file that touches crypto, TLS,
// tokens or signatures, and one end-to-end file per area. README ("FIPS mode") names the same set.
export const FIPS_SET = [
  // crypto, TLS, tokens, signatures
  'test/crypto-boundary.test.ts', // only src/crypto imports node:crypto; approved algorithms only
  'test/fips.test.ts', // FEATURE_FIPS start-up checks, sealed keys, refused algorithms, the FIPS provider end to end
  'test/tls.test.ts', // HTTPS, hot reload, TLS policy
  'test/verified-tokens.test.ts', // registry token signing and the verified-token cache
  'test/accounts-security.test.ts', // passwords (PBKDF2), secrets at rest, bad credentials
  'test/accounts-clients.test.ts', // token auth with skopeo, podman, buildah
  'test/login-throttle.test.ts', // password checks under throttling
  'test/edge-defects-clients.test.ts', // the token realm and service, the setup code
  'test/scanner-airgap.test.ts', // signed air-gap bundles (ECDSA P-256, SHA-256)
  'test/scanner-remote.test.ts', // PSK JWTs to an external scanner
  'test/chart-cli.test.ts', // Helm's workflow over HTTPS with Berth's CA
  'test/identity-ldap.test.ts', // ldaps and StartTLS with Berth's CA
  'test/identity-oidc.test.ts', // OpenID Connect: PKCE S256, ID token signatures
  'test/notifications.test.ts', // HMAC-signed webhooks
  'test/s3.test.ts', // SigV4 requests and presigned URLs, no MD5
  'test/storage-contract.test.ts', // digests of every driver
  'test/redis-cache.test.ts', // verified tokens shared through Redis (keyed by digest)
  'test/operator-core.test.ts', // the operator's generated CA, certificates and passwords
  'test/token-standing.test.ts', // a registry token stops working when its account, robot token or permission goes
  'test/upstream-client.test.ts', // Basic and Docker token auth against remote registries, digest checks
  'test/key-fingerprint.test.ts', // start-up refuses a database secret key the database was not set up with
  'test/mirror-proxy.test.ts', // mirror sync through a forward proxy and a CONNECT tunnel to a TLS upstream
  'test/proxy-cache-replicas.test.ts', // sealed proxy-cache credentials read through the shared Redis cache
  'test/proxy-cache-proxy.test.ts', // the proxy cache's upstream through a forward proxy and a CONNECT tunnel to TLS; sealed proxy password
  // one end-to-end file per area
  'test/conformance.test.ts', // registry: the OCI conformance suite
  'test/clients.test.ts', // registry: real clients
  'test/scanner-e2e.test.ts', // scanner
  'test/metrics.test.ts', // metrics
  'test/ui.test.ts', // web UI
  'test/audit.test.ts', // audit log
  'test/scale-out.test.ts', // three replicas behind nginx on PostgreSQL, S3 and Redis
  'test/operator-k8s.test.ts', // the operator against a real API server
  'test/proxy-cache.test.ts', // pull-through cache (sealed upstream credentials, token-auth upstream)
  'test/mirror.test.ts', // repository mirroring (sealed upstream credentials)
  'test/quota.test.ts', // storage quotas
  'test/tag-policy.test.ts', // tag expiration and immutable tags
  'test/gc-candidates.test.ts', // garbage collection (candidate-driven, the sweep)
];
