// The metrics settings, read from the validated config (keys in src/config/schema-metrics.ts).
import type { BerthConfig } from '../config/load.js';
import type { NodeCollectorGroup } from './node-collectors.js';

export interface MetricsSettings {
  enabled: boolean;
  /** Serve /metrics on the main listener. */
  onMainPort: boolean;
  /** A second listener for /metrics only (host of LISTEN). */
  separate?: { host: string; port: number };
  basicAuth?: { username: string; password: string };
  rowCountIntervalSeconds: number;
  /** The Node.js process metric groups to collect (METRICS_NODE_COLLECTORS). */
  nodeCollectors: NodeCollectorGroup[];
}

export function metricsSettings(config: BerthConfig): MetricsSettings {
  const raw = config.raw;
  let basicAuth: MetricsSettings['basicAuth'];
  const ba = raw.METRICS_BASIC_AUTH;
  if (typeof ba === 'string') {
    const i = ba.indexOf(':');
    basicAuth = { username: ba.slice(0, i), password: ba.slice(i + 1) };
  } else if (ba) basicAuth = { username: ba.username, password: ba.password };
  return {
    enabled: raw.METRICS_ENABLED,
    onMainPort: raw.METRICS_ON_MAIN_PORT,
    separate: raw.METRICS_PORT === undefined ? undefined : { host: config.listen.host, port: raw.METRICS_PORT },
    basicAuth,
    rowCountIntervalSeconds: raw.METRICS_ROW_COUNT_INTERVAL_SECONDS,
    nodeCollectors: raw.METRICS_NODE_COLLECTORS,
  };
}
