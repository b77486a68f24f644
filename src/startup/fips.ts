// FIPS mode at start-up: refuse to run unless the process is in FIPS mode and the configuration and
// TLS key pair need only approved algorithms; the TLS options of the HTTPS listener either way.
import type { BerthConfig } from '../config/load.js';
import {
  applyFipsTlsDefaults,
  assertFipsRuntime,
  describeFips,
  fipsConfigProblems,
  FipsError,
  fipsStatus,
  tlsKeyProblems,
  tlsOptions,
  type FipsStatus,
  type TlsOptions,
} from '../crypto/index.js';

export interface FipsReport {
  /** FEATURE_FIPS (or serve --fips). */
  on: boolean;
  status: FipsStatus;
  /** The start-up log line naming the provider. */
  line: string;
  /** Options for the HTTPS server (and each certificate reload). */
  tls: TlsOptions;
  /** Problems of a certificate/key pair under this policy (none when FIPS mode is off). */
  checkKeyPair(cert: Buffer, key: Buffer, where: string): string[];
}

export function fipsStartup(config: BerthConfig, tlsFiles?: { cert: Buffer; key: Buffer; where: string }): FipsReport {
  const r = config.raw;
  const on = r.FEATURE_FIPS === true;
  const status = on ? assertFipsRuntime() : fipsStatus();
  const checkKeyPair = (cert: Buffer, key: Buffer, where: string) => (on ? tlsKeyProblems(cert, key, where) : []);
  if (on) {
    const problems = [...fipsConfigProblems(r), ...(tlsFiles ? checkKeyPair(tlsFiles.cert, tlsFiles.key, tlsFiles.where) : [])];
    if (problems.length) throw new FipsError(`FIPS mode refuses this configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    applyFipsTlsDefaults();
  }
  return {
    on,
    status,
    line: describeFips(status),
    tls: tlsOptions({ fips: on, ciphers: r.SSL_CIPHERS, protocols: r.SSL_PROTOCOLS }),
    checkKeyPair,
  };
}
