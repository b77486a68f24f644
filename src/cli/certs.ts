// berth certs init: a local CA and a server certificate for SERVER_HOSTNAME, and how to trust the CA.
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { certificateNames, initCertificates } from '../startup/certs.js';

export async function certsInit(o: { config?: string; data?: string; dir?: string; hostname?: string[]; days?: string }): Promise<void> {
  const config = loadConfig({ file: o.config, data: o.data });
  if (o.days !== undefined && !/^\d{1,4}$/.test(o.days)) throw new Error(`--days must be a number of days, not "${o.days}"`);
  const dir = path.resolve(o.dir ?? path.join(config.dataDir, 'tls'));
  const names = certificateNames(config.serverHostname, o.hostname ?? []);
  const r = await initCertificates(dir, names, { days: o.days ? Number(o.days) : undefined });
  const host = config.serverHostname;
  process.stdout.write(
    [
      `${r.caReused ? 'kept the existing CA' : 'created a CA'}: ${r.caCert} (key ${r.caKey}, keep it private)`,
      `server certificate for ${names.join(', ')}: ${r.serverCert} (key ${r.serverKey})`,
      '',
      'Serve HTTPS with it (config.yaml):',
      `  PREFERRED_URL_SCHEME: https`,
      `  TLS_CERT_FILE: ${r.serverCert}`,
      `  TLS_KEY_FILE: ${r.serverKey}`,
      '',
      'Make clients trust the CA:',
      `  Debian/Ubuntu:  sudo cp ${r.caCert} /usr/local/share/ca-certificates/berth-ca.crt && sudo update-ca-certificates`,
      `  RHEL/Fedora:    sudo cp ${r.caCert} /etc/pki/ca-trust/source/anchors/berth-ca.crt && sudo update-ca-trust`,
      `  macOS:          sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${r.caCert}`,
      `  podman/skopeo/buildah (this registry only): sudo mkdir -p /etc/containers/certs.d/${host} && sudo cp ${r.caCert} /etc/containers/certs.d/${host}/ca.crt`,
      `  docker:         sudo mkdir -p /etc/docker/certs.d/${host} && sudo cp ${r.caCert} /etc/docker/certs.d/${host}/ca.crt`,
      `  helm:           trusts the system store after the step above (or: helm registry login ${host} --ca-file ${r.caCert})`,
      '',
    ].join('\n'),
  );
}
