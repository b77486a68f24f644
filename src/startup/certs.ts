// A local certificate authority and a server certificate for Berth's hostname (berth certs init).
// Keys come from crypto/ (ECDSA P-256); certificates are built with @peculiar/x509 over crypto/'s WebCrypto.
// Key identifiers are SHA-256 based (RFC 7093), not the library's default SHA-1, so FIPS mode needs nothing else.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  certificateKeyId,
  exportPrivateKeyPem,
  generateCertificateKeyPair,
  importCertificatePrivateKeyPem,
  randomSerial,
  webCrypto,
} from '../crypto/index.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface CertsResult {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  names: string[];
  caReused: boolean;
}

/** Server names a certificate must cover: the configured host (without port) plus localhost and loopback addresses. */
export function certificateNames(serverHostname: string, extra: string[] = []): string[] {
  let host = serverHostname;
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else if (host.includes(':') && isIP(host) !== 6) host = host.slice(0, host.lastIndexOf(':'));
  return [...new Set([host, ...extra, 'localhost', '127.0.0.1', '::1'].filter(Boolean))];
}

export async function initCertificates(dir: string, names: string[], opts: { days?: number } = {}): Promise<CertsResult> {
  x509.cryptoProvider.set(webCrypto);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = {
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
  };
  const now = Date.now();
  let ca: x509.X509Certificate;
  let caKey: CryptoKey;
  const caReused = existsSync(files.caCert) && existsSync(files.caKey);
  if (caReused) {
    // Keep the CA the clients already trust; only the server certificate is renewed.
    ca = new x509.X509Certificate(readFileSync(files.caCert, 'utf8'));
    caKey = await importCertificatePrivateKeyPem(readFileSync(files.caKey, 'utf8'));
  } else {
    const keys = await generateCertificateKeyPair();
    ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=Berth local CA ${new Date(now).toISOString().slice(0, 10)}, O=Berth`,
      notBefore: new Date(now - DAY),
      notAfter: new Date(now + 10 * 365 * DAY),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        new x509.SubjectKeyIdentifierExtension(await certificateKeyId(keys.publicKey)),
      ],
    });
    caKey = keys.privateKey;
    writeFileSync(files.caKey, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600 });
    writeFileSync(files.caCert, ca.toString('pem') + '\n');
  }
  const keys = await generateCertificateKeyPair();
  const san = names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${names[0]}`,
    issuer: ca.subject,
    notBefore: new Date(now - DAY),
    notAfter: new Date(now + (opts.days ?? 397) * DAY),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(san),
      new x509.SubjectKeyIdentifierExtension(await certificateKeyId(keys.publicKey)),
      new x509.AuthorityKeyIdentifierExtension(
        ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? (await certificateKeyId(await ca.publicKey.export())),
      ),
    ],
  });
  writeFileSync(files.serverKey, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600 });
  writeFileSync(files.serverCert, cert.toString('pem') + '\n' + ca.toString('pem') + '\n');
  return { dir, ...files, names, caReused };
}
