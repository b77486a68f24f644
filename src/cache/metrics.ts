// berth_redis_up: 1 when every Redis connection this replica uses is up, 0 when any is down (only when Redis is configured).
import { Gauge, type Registry } from 'prom-client';

export function registerRedisMetrics(registry: Registry, up: () => number | undefined): void {
  new Gauge({
    name: 'berth_redis_up',
    help: '1 when every configured Redis connection (DATA_MODEL_CACHE_CONFIG, PULL_METRICS_REDIS) is up; 0 while Berth serves from the database alone',
    registers: [registry],
    collect() {
      this.set(up() ?? 0);
    },
  });
}
