// prom-client's default-metrics collectors (lib/metrics/*.js), which ship without type declarations: each module
// exports one function that registers its series in the registry given in the config.
declare module 'prom-client/lib/metrics/*.js' {
  import type { Registry } from 'prom-client';
  const collector: (registry: Registry, config: Record<string, unknown>) => void;
  export default collector;
}
