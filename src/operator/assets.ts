// The monitoring files the operator installs: deploy/monitoring's alert rules and Grafana dashboard
// (the image ships deploy/monitoring beside the code, see Containerfile).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Assets } from './components.js';

export const MONITORING_DIR = path.resolve(import.meta.dirname, '../../deploy/monitoring');

export function loadAssets(dir = MONITORING_DIR): Assets {
  const rules = parse(readFileSync(path.join(dir, 'prometheus-rules.yaml'), 'utf8')) as { groups: unknown[] };
  const dashboardJson = readFileSync(path.join(dir, 'grafana-dashboard.json'), 'utf8');
  return { ruleGroups: rules.groups, dashboardJson };
}
