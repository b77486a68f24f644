const SCANNER_STRING_ENV_KEYS = ["SECURITY_SCANNER_V4_ENDPOINT", "SECURITY_SCANNER_V4_PSK", "SCANNER_PROXY"];
const SCANNER_NUMERIC_ENV_KEYS = [
  "SCANNER_UPDATE_INTERVAL_SECONDS",
  "SCANNER_WORKERS",
  "SCANNER_MAX_ATTEMPTS",
  "SCANNER_LEASE_SECONDS",
  "SCANNER_DATA_MAX_AGE_SECONDS"
];
const SCANNER_BOOLEAN_ENV_KEYS = ["FEATURE_SECURITY_SCANNER"];
function jsonObject(name, text, problems) {
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    problems.push(`${name} (environment): must be a JSON object, e.g. ${name === "SCANNER_NOTIFICATION_WEBHOOK" ? '{"url": "https://\u2026", "secret": "\u2026"}' : '{"osv-pypi": "https://mirror.example/osv"}'}`);
    return void 0;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) {
    problems.push(`${name} (environment): must be a JSON object`);
    return void 0;
  }
  return v;
}
function scannerEnvOverrides(env, doc, problems) {
  const updaters = env.SCANNER_UPDATERS?.trim();
  if (updaters) {
    if (updaters.startsWith("[")) {
      try {
        doc.SCANNER_UPDATERS = JSON.parse(updaters);
      } catch {
        problems.push('SCANNER_UPDATERS (environment): not a valid JSON array; use "name1,name2" or ["name1","name2"]');
      }
    } else doc.SCANNER_UPDATERS = updaters.split(/[\s,]+/).filter(Boolean);
  }
  for (const name of ["SCANNER_UPDATER_BASE_URLS", "SCANNER_NOTIFICATION_WEBHOOK"]) {
    const text = env[name]?.trim();
    if (!text) continue;
    const v = jsonObject(name, text, problems);
    if (v) doc[name] = v;
  }
}
export {
  SCANNER_BOOLEAN_ENV_KEYS,
  SCANNER_NUMERIC_ENV_KEYS,
  SCANNER_STRING_ENV_KEYS,
  scannerEnvOverrides
};
//# sourceMappingURL=env-scanner.js.map
