// berth operator [--kubeconfig FILE] [--namespace NS]: reconciles BerthRegistry objects (docs/KUBERNETES.md).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadAssets } from '../operator/assets.js';
import { Operator } from '../operator/runner.js';

function berthVersion(): string {
  const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export async function runOperator(o: { kubeconfig?: string; namespace?: string }): Promise<void> {
  const version = process.env.BERTH_VERSION || berthVersion();
  // RELATED_IMAGE_*: the images the operator deploys (as the Quay Operator names them), set in its Deployment.
  const images = {
    berth: process.env.RELATED_IMAGE_BERTH || `localhost/berth:${version}`,
    berthFips: process.env.RELATED_IMAGE_BERTH_FIPS || `localhost/berth-fips:${version}`,
    postgres: process.env.RELATED_IMAGE_POSTGRES || 'docker.io/library/postgres:15',
    redis: process.env.RELATED_IMAGE_REDIS || 'docker.io/library/redis:7',
  };
  const namespace = o.namespace ?? process.env.WATCH_NAMESPACE ?? undefined;
  const operator = new Operator({ kubeconfig: o.kubeconfig, namespace: namespace || undefined, images, version, assets: loadAssets() });
  await operator.start();
  const stop = () => {
    operator.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
