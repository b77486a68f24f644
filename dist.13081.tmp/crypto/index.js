import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
const DIGEST_ALGORITHMS = ["sha256", "sha384", "sha512"];
function contentHasher(algorithm) {
  const h = createHash(algorithm);
  return {
    update: (chunk) => {
      h.update(chunk);
    },
    hex: () => h.digest("hex")
  };
}
function hashHex(algorithm, data) {
  return createHash(algorithm).update(data).digest("hex");
}
function newId() {
  return randomUUID();
}
function randomToken(bytes = 32) {
  return randomBytes(bytes).toString("base64url");
}
import { pbkdf2 as pbkdf2Cb, timingSafeEqual, generateKeyPairSync, webcrypto, X509Certificate } from "node:crypto";
async function hashPassword(password, iterations) {
  const salt = randomBytes(16);
  const hash = await pbkdf2(password, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${salt.toString("base64")}$${hash.toString("base64")}`;
}
function pbkdf2(password, salt, iterations) {
  return new Promise((resolve, reject) => pbkdf2Cb(password.normalize("NFC"), salt, iterations, 32, "sha256", (e, key) => e ? reject(e) : resolve(key)));
}
async function verifyPassword(password, stored) {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== "pbkdf2-sha256" || !/^\d+$/.test(parts[1])) return false;
  const expected = Buffer.from(parts[3], "base64");
  const actual = await pbkdf2(password, Buffer.from(parts[2], "base64"), Number(parts[1]));
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
function passwordIterations(stored) {
  return Number(stored.split("$")[1]) || 0;
}
function secretDigest(secret) {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}
function safeEqual(a, b) {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}
function generateSigningKey(alg) {
  const pair = alg === "ES256" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 3072 });
  return {
    privatePem: pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: pair.publicKey.export({ type: "spki", format: "pem" }).toString()
  };
}
const webCrypto = webcrypto;
async function generateCertificateKeyPair() {
  return webCrypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
}
async function exportPrivateKeyPem(key) {
  const der = Buffer.from(await webCrypto.subtle.exportKey("pkcs8", key));
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "");
  return `-----BEGIN PRIVATE KEY-----
${b64}
-----END PRIVATE KEY-----
`;
}
function randomSerial() {
  const b = randomBytes(16);
  b[0] &= 127;
  if (b[0] === 0) b[0] = 1;
  return b.toString("hex");
}
function certificateInfo(pem) {
  const c = new X509Certificate(pem);
  return { subject: c.subject, validTo: c.validTo, subjectAltName: c.subjectAltName, fingerprint256: c.fingerprint256 };
}
async function importCertificatePrivateKeyPem(pem) {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return webCrypto.subtle.importKey("pkcs8", Buffer.from(b64, "base64"), { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);
}
function hmacSha256(key, data) {
  return createHmac("sha256", key).update(data).digest("hex");
}
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
function sha256Hasher() {
  return contentHasher("sha256");
}
function requireP256(key, what) {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error(`${what} is not an ECDSA P-256 key (got ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ""})`);
  }
}
function p256KeyId(pem) {
  const pub = /PRIVATE KEY/.test(pem) ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  requireP256(pub, "the key");
  return createHash("sha256").update(pub.export({ type: "spki", format: "der" })).digest("hex");
}
function signP256(privatePem, message) {
  let key;
  try {
    key = createPrivateKey(privatePem);
  } catch (e) {
    throw new Error(`cannot read the signing key: ${e.message}`);
  }
  requireP256(key, "the signing key");
  return cryptoSign("sha256", typeof message === "string" ? Buffer.from(message) : message, key).toString("base64");
}
function verifyP256(publicPem, message, signatureB64) {
  let key;
  try {
    key = /PRIVATE KEY/.test(publicPem) ? createPublicKey(createPrivateKey(publicPem)) : createPublicKey(publicPem);
  } catch (e) {
    throw new Error(`cannot read the verification key: ${e.message}`);
  }
  requireP256(key, "the verification key");
  try {
    return cryptoVerify("sha256", typeof message === "string" ? Buffer.from(message) : message, key, Buffer.from(signatureB64, "base64"));
  } catch {
    return false;
  }
}
async function importSigningKeys(alg, publicPem, privatePem) {
  const params = alg === "ES256" ? { name: "ECDSA", namedCurve: "P-256" } : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
  const der = (pem) => Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  const publicKey = await webCrypto.subtle.importKey("spki", der(publicPem), params, true, ["verify"]);
  const bits = publicKey.algorithm.modulusLength;
  if (bits !== void 0 && bits < 2048) throw new Error(`RSA signing key of ${bits} bits refused: at least 2048 bits are required`);
  const privateKey = privatePem ? await webCrypto.subtle.importKey("pkcs8", der(privatePem), params, false, ["sign"]) : void 0;
  return { publicKey, privateKey };
}
async function certificateKeyId(publicKey) {
  const raw = Buffer.from(await webCrypto.subtle.exportKey("raw", publicKey));
  return createHash("sha256").update(raw).digest("hex").slice(0, 40);
}
function hmacSha256Hex(key, data) {
  return createHmac("sha256", key).update(data).digest("hex");
}
export * from "./secrets.js";
export * from "./fips.js";
export {
  DIGEST_ALGORITHMS,
  certificateInfo,
  certificateKeyId,
  contentHasher,
  exportPrivateKeyPem,
  generateCertificateKeyPair,
  generateSigningKey,
  hashHex,
  hashPassword,
  hmacSha256,
  hmacSha256Hex,
  importCertificatePrivateKeyPem,
  importSigningKeys,
  newId,
  p256KeyId,
  passwordIterations,
  randomSerial,
  randomToken,
  safeEqual,
  secretDigest,
  sha256Hasher,
  signP256,
  verifyP256,
  verifyPassword,
  webCrypto
};
//# sourceMappingURL=index.js.map
