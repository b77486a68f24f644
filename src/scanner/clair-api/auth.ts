// Clair's pre-shared-key auth as Quay does it: HS256 JWTs signed with the base64-decoded PSK
// (Quay's SECURITY_SCANNER_V4_PSK, Clair's auth.psk.key), sent as "Authorization: Bearer <jwt>".
// jose is loaded by the first PSK token signed or verified.
let joseModule: Promise<typeof import('jose')> | undefined;
const jose = () => (joseModule ??= import('jose'));

/** The issuers Clair accepts by default (auth.psk.iss), and Berth's own. */
export const PSK_ISSUERS = ['quay', 'clairctl', 'berth'];

export function pskKey(psk: string): Uint8Array {
  const key = Buffer.from(psk, 'base64');
  if (key.length < 16) throw new Error('SECURITY_SCANNER_V4_PSK must be base64 of at least 16 bytes');
  return new Uint8Array(key);
}

/** A token as Quay signs it: iss "quay" (or the given issuer), a few minutes' lifetime. */
export async function signPskToken(psk: string, issuer = 'quay', lifetimeSeconds = 300): Promise<string> {
  const { SignJWT } = await jose();
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(issuer)
    .setIssuedAt()
    .setNotBefore('-30s')
    .setExpirationTime(`${lifetimeSeconds}s`)
    .sign(pskKey(psk));
}

/** Verifies a bearer token; returns the reason when it is refused. */
export async function verifyPskToken(psk: string, authorization: string | undefined): Promise<string | undefined> {
  const m = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
  if (!m) return 'missing bearer token';
  const { jwtVerify } = await jose();
  try {
    await jwtVerify(m[1], pskKey(psk), { algorithms: ['HS256'], issuer: PSK_ISSUERS, clockTolerance: 30 });
    return undefined;
  } catch (e) {
    return `invalid token: ${(e as Error).message}`;
  }
}
