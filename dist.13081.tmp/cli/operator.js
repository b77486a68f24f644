import { readFileSync } from "node:fs";
import path from "node:path";
import { loadAssets } from "../operator/assets.js";
import { Operator } from "../operator/runner.js";
function berthVersion() {
  const pkg = JSON.parse(readFileSync(path.resolve(import.meta.dirname, "../../package.json"), "utf8"));
  return pkg.version;
}
async function runOperator(o) {
  const version = process.env.BERTH_VERSION || berthVersion();
  const images = {
    berth: process.env.RELATED_IMAGE_BERTH || `localhost/berth:${version}`,
    berthFips: process.env.RELATED_IMAGE_BERTH_FIPS || `localhost/berth-fips:${version}`,
    postgres: process.env.RELATED_IMAGE_POSTGRES || "docker.io/library/postgres:15",
    redis: process.env.RELATED_IMAGE_REDIS || "docker.io/library/redis:7"
  };
  const namespace = o.namespace ?? process.env.WATCH_NAMESPACE ?? void 0;
  const operator = new Operator({ kubeconfig: o.kubeconfig, namespace: namespace || void 0, images, version, assets: loadAssets() });
  await operator.start();
  const stop = () => {
    operator.stop();
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
export {
  runOperator
};
//# sourceMappingURL=operator.js.map
