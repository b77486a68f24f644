// Registry bearer tokens (Docker token spec): JWTs signed with keys Berth generates and keeps in the
// database (so replicas share them), rotated by age, each with its kid.
// Private keys are stored sealed with AES-256-GCM (crypto/secrets.ts); rows from before that are read and sealed in place.
import type { CryptoKey as JoseKey } from 'jose';

// jose is loaded by the first token issued or verified (an open registry never needs it).
let joseModule: Promise<typeof import('jose')> | undefined;
const jose = () => (joseModule ??= import('jose'));
import { generateSigningKey, hashHex, importSigningKeys, randomToken, SecretBox, type SigningAlgorithm } from '../../crypto/index.js';
import { CacheGroups } from '../../cache/types.js';
import { databaseSecretBox } from '../../startup/secret-key.js';
import type { AccountsContext } from './context.js';
import { VerifiedTokenCache } from './verified-tokens.js';

import type { AccessEntry } from '../principal.js';

export type { AccessEntry } from '../principal.js';
/**
 * `aud`: the audiences (service names) the token was issued for; `cred`: for robots, the fingerprint of the robot
 * token it was issued for; `app`: the id of the app token it was issued for (token-standing.ts, registry-access.ts).
 */
export interface TokenClaims {
  sub: string;
  access: AccessEntry[];
  exp: number;
  aud?: string[];
  cred?: string;
  app?: string;
}
export const ISSUER = 'berth';
export const MAX_TOKEN_LENGTH = 8192;
const CLOCK_TOLERANCE_SECONDS = 30;
/** Lifetime of the tokens an external scanner fetches layers with (indexing one image must fit in it). */
export const SCANNER_LAYER_TOKEN_SECONDS = 600;

interface LoadedKey {
  kid: string;
  alg: SigningAlgorithm;
  created: number;
  privateKey?: JoseKey;
  publicKey: JoseKey;
  retiredAt: number | null;
}

export class TokenError extends Error {}

export class RegistryTokenService {
  private current?: LoadedKey;
  private readonly verifyKeys = new Map<string, LoadedKey>();
  private readonly verified = new VerifiedTokenCache(CLOCK_TOLERANCE_SECONDS);

  /** `credentialOf`: what a token for a subject must carry to stay valid (a robot's token fingerprint). */
  constructor(
    private readonly ctx: AccountsContext,
    private readonly credentialOf: (subject: string) => Promise<string | undefined> = async () => undefined,
  ) {}

  private box(): SecretBox {
    return databaseSecretBox(this.ctx.config);
  }

  /** The signing key, rotating it when it is older than TOKEN_KEY_ROTATION_DAYS. */
  async signingKey(): Promise<LoadedKey> {
    const now = this.ctx.now();
    if (this.current && now - this.current.created < this.ctx.auth.keyRotationMs) return this.current;
    const { db } = this.ctx;
    const alg = this.ctx.auth.signingAlgorithm;
    let row = await db
      .selectFrom('signing_key')
      .selectAll()
      .where('retired_at', 'is', null)
      .where('alg', '=', alg)
      .orderBy('created_at', 'desc')
      .executeTakeFirst();
    if (!row || now - row.created_at >= this.ctx.auth.keyRotationMs) {
      const pair = generateSigningKey(alg);
      const kid = `berth-${randomToken(12)}`;
      const sealed = this.box().seal(pair.privatePem, `signing_key:${kid}`);
      await db.transaction().execute(async (tx) => {
        await tx.updateTable('signing_key').set({ retired_at: now }).where('retired_at', 'is', null).execute();
        await tx
          .insertInto('signing_key')
          .values({ kid, alg, private_pem: sealed, public_pem: pair.publicPem, created_at: now, retired_at: null })
          .execute();
      });
      row = { kid, alg, private_pem: sealed, public_pem: pair.publicPem, created_at: now, retired_at: null };
    }
    let privatePem = row.private_pem;
    if (SecretBox.isSealed(privatePem)) privatePem = this.box().open(privatePem, `signing_key:${row.kid}`);
    else {
      await db
        .updateTable('signing_key')
        .set({ private_pem: this.box().seal(privatePem, `signing_key:${row.kid}`) })
        .where('kid', '=', row.kid)
        .where('private_pem', '=', privatePem)
        .execute();
    }
    const keys = await importSigningKeys(row.alg as SigningAlgorithm, row.public_pem, privatePem);
    const loaded: LoadedKey = {
      kid: row.kid,
      alg: row.alg as SigningAlgorithm,
      created: row.created_at,
      retiredAt: row.retired_at,
      privateKey: keys.privateKey,
      publicKey: keys.publicKey,
    };
    this.current = loaded;
    this.verifyKeys.set(loaded.kid, loaded);
    // Drop keys retired longer ago than any token they signed can live.
    await db
      .deleteFrom('signing_key')
      .where('retired_at', '<', now - (this.ctx.auth.tokenSeconds + 300) * 1000)
      .execute();
    return loaded;
  }

  async issue(
    subject: string,
    access: AccessEntry[],
    opts: { seconds?: number; audience?: string; appToken?: number } = {},
  ): Promise<{ token: string; expiresIn: number; issuedAt: string }> {
    const key = await this.signingKey();
    const now = Math.floor(this.ctx.now() / 1000);
    const seconds = opts.seconds ?? this.ctx.auth.tokenSeconds;
    const exp = now + seconds;
    const cred = await this.credentialOf(subject);
    const { SignJWT } = await jose();
    const token = await new SignJWT({
      access,
      ...(cred ? { cred } : {}),
      ...(opts.appToken !== undefined ? { app: String(opts.appToken) } : {}),
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(opts.audience ?? this.ctx.auth.service)
      .setSubject(subject)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(exp)
      .setJti(randomToken(16))
      .sign(key.privateKey!);
    return { token, expiresIn: seconds, issuedAt: new Date(now * 1000).toISOString() };
  }

  /**
   * The headers of each layer entry Berth sends an external scanner (as Quay does): a registry
   * token, signed like /v2/auth's, that grants pull on that one repository and lives
   * SCANNER_LAYER_TOKEN_SECONDS. No subject: it stands for no account.
   */
  async layerPullHeaders(repository: string): Promise<Record<string, string[]>> {
    const { token } = await this.issue('', [{ type: 'repository', name: repository, actions: ['pull'] }], {
      seconds: SCANNER_LAYER_TOKEN_SECONDS,
    });
    return { Authorization: [`Bearer ${token}`] };
  }

  private async publicKey(kid: string): Promise<LoadedKey | undefined> {
    const have = this.verifyKeys.get(kid);
    if (have) return have;
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(kid)) return undefined;
    const row = await this.ctx.db
      .selectFrom('signing_key')
      .select(['kid', 'alg', 'public_pem', 'created_at', 'retired_at'])
      .where('kid', '=', kid)
      .executeTakeFirst();
    if (!row) return undefined;
    const k: LoadedKey = {
      kid,
      alg: row.alg as SigningAlgorithm,
      created: row.created_at,
      retiredAt: row.retired_at,
      publicKey: (await importSigningKeys(row.alg as SigningAlgorithm, row.public_pem)).publicKey,
    };
    this.verifyKeys.set(kid, k);
    return k;
  }

  /**
   * Verifies signature (only our ES256/RS256 keys, never "none"), issuer, times and the audience: one of
   * `audiences` (default: the configured service name).
   */
  async verify(token: string, audiences: string[] = [this.ctx.auth.service]): Promise<TokenClaims> {
    const claims = await this.verifySigned(token);
    if (!(claims.aud ?? []).some((a) => audiences.includes(a))) throw new TokenError('token was issued for another service');
    return claims;
  }

  private async verifySigned(token: string): Promise<TokenClaims> {
    if (token.length > MAX_TOKEN_LENGTH) throw new TokenError('token is too long');
    const known = this.verified.get(token, this.ctx.now());
    if (known) return known;
    if (!this.ctx.cache) return this.verifySignature(token);
    // Another replica may have verified it already (shared cache, keyed by the token's digest, never the token).
    const claims = (await this.ctx.cache.fetch(CacheGroups.tokens, hashHex('sha256', token), () => this.verifySignature(token)))!;
    if (this.ctx.now() / 1000 > claims.exp + CLOCK_TOLERANCE_SECONDS) throw new TokenError('token has expired');
    this.verified.set(token, claims);
    return claims;
  }

  private async verifySignature(token: string): Promise<TokenClaims> {
    const { decodeProtectedHeader, jwtVerify } = await jose();
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenError('token is not a JWT');
    }
    const key = kid ? await this.publicKey(kid) : undefined;
    if (!key) throw new TokenError('token was not signed by this registry');
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg],
        issuer: ISSUER,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: new Date(this.ctx.now()),
      });
      const access = Array.isArray(payload.access) ? (payload.access as AccessEntry[]) : [];
      const aud = (Array.isArray(payload.aud) ? payload.aud : [payload.aud]).filter((a): a is string => typeof a === 'string');
      const claims: TokenClaims = { sub: typeof payload.sub === 'string' ? payload.sub : '', access, exp: payload.exp ?? 0, aud };
      if (typeof payload.cred === 'string') claims.cred = payload.cred;
      if (typeof payload.app === 'string') claims.app = payload.app;
      this.verified.set(token, claims);
      return claims;
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      throw new TokenError(code === 'ERR_JWT_EXPIRED' ? 'token has expired' : 'token is not valid');
    }
  }
}
