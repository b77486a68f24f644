#!/usr/bin/env node
// Writes prometheusrule.yaml (Prometheus Operator) from ../monitoring/prometheus-rules.yaml, so the
// two never differ (test/prometheus-rules.test.ts checks it):  node deploy/kubernetes/render-prometheusrule.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';

const here = import.meta.dirname;
const rules = parse(readFileSync(path.join(here, '../monitoring/prometheus-rules.yaml'), 'utf8'));
const doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: {
    name: 'berth',
    labels: { 'app.kubernetes.io/name': 'berth', 'app.kubernetes.io/component': 'monitoring', role: 'alert-rules' },
  },
  spec: { groups: rules.groups },
};
const header = [
  '# Berth alert rules for the Prometheus Operator. GENERATED from deploy/monitoring/prometheus-rules.yaml',
  '# by deploy/kubernetes/render-prometheusrule.mjs: edit that file, then run the script.',
  '# Your Prometheus must select this object (ruleSelector): add the labels it expects, e.g. prometheus: k8s.',
  '',
].join('\n');
writeFileSync(path.join(here, 'prometheusrule.yaml'), header + stringify(doc, { lineWidth: 0 }));
