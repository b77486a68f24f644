// Environment overrides of the scanner's config keys (the same names as in config.yaml).
// Scalars go through loadConfig's string / number / boolean lists; the structured keys are read here:
//   SCANNER_UPDATERS               "osv-pypi,debian-tracker" (commas and/or blanks) or a JSON array
//   SCANNER_UPDATER_BASE_URLS      JSON object {"updater": "https://mirror/..."}
//   SCANNER_NOTIFICATION_WEBHOOK   JSON object {"url": "...", "secret": "..."}
// A value that cannot be read is reported as a problem naming the variable; nothing is half-applied.

export const SCANNER_STRING_ENV_KEYS = ['SECURITY_SCANNER_V4_ENDPOINT', 'SECURITY_SCANNER_V4_PSK', 'SCANNER_PROXY'] as const;
export const SCANNER_NUMERIC_ENV_KEYS = [
  'SCANNER_UPDATE_INTERVAL_SECONDS',
  'SCANNER_WORKERS',
  'SCANNER_MAX_ATTEMPTS',
  'SCANNER_LEASE_SECONDS',
  'SCANNER_DATA_MAX_AGE_SECONDS',
] as const;
export const SCANNER_BOOLEAN_ENV_KEYS = ['FEATURE_SECURITY_SCANNER'] as const;

function jsonObject(name: string, text: string, problems: string[]): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    problems.push(
      `${name} (environment): must be a JSON object, e.g. ${name === 'SCANNER_NOTIFICATION_WEBHOOK' ? '{"url": "https://…", "secret": "…"}' : '{"osv-pypi": "https://mirror.example/osv"}'}`,
    );
    return undefined;
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    problems.push(`${name} (environment): must be a JSON object`);
    return undefined;
  }
  return v as Record<string, unknown>;
}

/** Applies the structured scanner variables of `env` to `doc`; problems are appended. */
export function scannerEnvOverrides(env: NodeJS.ProcessEnv, doc: Record<string, unknown>, problems: string[]): void {
  const updaters = env.SCANNER_UPDATERS?.trim();
  if (updaters) {
    if (updaters.startsWith('[')) {
      try {
        doc.SCANNER_UPDATERS = JSON.parse(updaters);
      } catch {
        problems.push('SCANNER_UPDATERS (environment): not a valid JSON array; use "name1,name2" or ["name1","name2"]');
      }
    } else doc.SCANNER_UPDATERS = updaters.split(/[\s,]+/).filter(Boolean);
  }
  for (const name of ['SCANNER_UPDATER_BASE_URLS', 'SCANNER_NOTIFICATION_WEBHOOK'] as const) {
    const text = env[name]?.trim();
    if (!text) continue;
    const v = jsonObject(name, text, problems);
    if (v) doc[name] = v;
  }
}
