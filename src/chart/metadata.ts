// Chart.yaml as Helm reads, validates and writes it: the chart.Metadata fields in Go's order (the config
// blob is json.Marshal(Metadata)), Helm's validation and string sanitising, and Chart.yaml re-written with
// sorted keys the way sigs.k8s.io/yaml does inside `helm package`.
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ChartError } from './errors.js';
import { goJson, sortedMap } from './gojson.js';

export interface Maintainer {
  name?: string;
  email?: string;
  url?: string;
}
export interface Dependency {
  name: string;
  version?: string;
  repository: string;
  condition?: string;
  tags?: string[];
  enabled?: boolean;
  'import-values'?: unknown[];
  alias?: string;
}
/** chart.Metadata, fields in the order Go marshals them (omitempty everywhere but dependency name/repository). */
export interface ChartMetadata {
  name?: string;
  home?: string;
  sources?: string[];
  version?: string;
  description?: string;
  keywords?: string[];
  maintainers?: Maintainer[];
  icon?: string;
  apiVersion?: string;
  condition?: string;
  tags?: string;
  appVersion?: string;
  deprecated?: boolean;
  annotations?: Record<string, string>;
  kubeVersion?: string;
  dependencies?: Dependency[];
  type?: string;
}

/** Masterminds/semver NewVersion (what Helm accepts as a chart version). */
export const LOOSE_SEMVER = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;

/** Helm's sanitizeString: whitespace becomes a space, non-printable characters are dropped. */
function sanitize(s: string): string {
  return s.replace(/\s/gu, ' ').replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu, '');
}

const str = (v: unknown, where: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw new ChartError(`Chart.yaml: ${where} must be a string, not ${JSON.stringify(v)} (quote it: ${where}: "${String(v)}")`);
  return v;
};
const strList = (v: unknown, where: string): string[] | undefined => {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ChartError(`Chart.yaml: ${where} must be a list of strings`);
  return v.map((x, i) => str(x, `${where}[${i}]`) ?? '');
};
const nonEmpty = <T>(o: T): T => {
  for (const k of Object.keys(o as object)) {
    const v = (o as Record<string, unknown>)[k];
    if (
      v === undefined ||
      v === '' ||
      v === false ||
      (Array.isArray(v) && v.length === 0) ||
      (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)
    ) {
      delete (o as Record<string, unknown>)[k];
    }
  }
  return o;
};

/** Reads Chart.yaml text into Metadata (unknown keys are ignored, as Helm does). */
export function parseChartYaml(text: string): ChartMetadata {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ChartError(`Chart.yaml is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc))
    throw new ChartError('Chart.yaml must be a mapping of keys (name, version, apiVersion, …)');
  return metadataFrom(doc as Record<string, unknown>);
}

/** Builds Metadata from a decoded Chart.yaml or config JSON object (json.Unmarshal matches keys case-insensitively). */
export function metadataFrom(raw: Record<string, unknown>): ChartMetadata {
  const lower = new Map(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
  const g = (k: string) => (raw[k] !== undefined ? raw[k] : lower.get(k.toLowerCase()));
  const maintainers = g('maintainers');
  const deps = g('dependencies');
  const annotations = g('annotations');
  if (maintainers !== undefined && maintainers !== null && !Array.isArray(maintainers))
    throw new ChartError('Chart.yaml: maintainers must be a list');
  if (deps !== undefined && deps !== null && !Array.isArray(deps)) throw new ChartError('Chart.yaml: dependencies must be a list');
  if (annotations !== undefined && annotations !== null && (typeof annotations !== 'object' || Array.isArray(annotations)))
    throw new ChartError('Chart.yaml: annotations must be a mapping of strings');
  const deprecated = g('deprecated');
  if (deprecated !== undefined && deprecated !== null && typeof deprecated !== 'boolean')
    throw new ChartError('Chart.yaml: deprecated must be true or false');
  const md: ChartMetadata = {
    name: str(g('name'), 'name'),
    home: str(g('home'), 'home'),
    sources: strList(g('sources'), 'sources'),
    version: str(g('version'), 'version'),
    description: str(g('description'), 'description'),
    keywords: strList(g('keywords'), 'keywords'),
    maintainers: (maintainers as unknown[] | undefined | null)?.map((m, i) => {
      if (!m || typeof m !== 'object') throw new ChartError(`Chart.yaml: maintainers must not contain empty or null nodes (entry ${i})`);
      const o = m as Record<string, unknown>;
      return nonEmpty({
        name: str(o.name, `maintainers[${i}].name`),
        email: str(o.email, `maintainers[${i}].email`),
        url: str(o.url, `maintainers[${i}].url`),
      });
    }),
    icon: str(g('icon'), 'icon'),
    apiVersion: str(g('apiVersion'), 'apiVersion'),
    condition: str(g('condition'), 'condition'),
    tags: str(g('tags'), 'tags'),
    appVersion: str(g('appVersion'), 'appVersion'),
    deprecated: deprecated === true ? true : undefined,
    annotations: annotations
      ? Object.fromEntries(Object.entries(annotations as Record<string, unknown>).map(([k, v]) => [k, str(v, `annotations.${k}`) ?? '']))
      : undefined,
    kubeVersion: str(g('kubeVersion'), 'kubeVersion'),
    dependencies: (deps as unknown[] | undefined | null)?.map((d, i) => {
      if (!d || typeof d !== 'object') throw new ChartError(`Chart.yaml: dependencies must not contain empty or null nodes (entry ${i})`);
      const o = d as Record<string, unknown>;
      const iv = o['import-values'];
      const dep: Dependency = {
        name: str(o.name, `dependencies[${i}].name`) ?? '',
        version: str(o.version, `dependencies[${i}].version`),
        repository: str(o.repository, `dependencies[${i}].repository`) ?? '',
        condition: str(o.condition, `dependencies[${i}].condition`),
        tags: strList(o.tags, `dependencies[${i}].tags`),
        enabled: o.enabled === true ? true : undefined,
        'import-values': Array.isArray(iv) ? iv : undefined,
        alias: str(o.alias, `dependencies[${i}].alias`),
      };
      nonEmpty(dep);
      dep.name ??= '';
      dep.repository ??= '';
      return reorder(dep, ['name', 'version', 'repository', 'condition', 'tags', 'enabled', 'import-values', 'alias']);
    }),
    type: str(g('type'), 'type'),
  };
  return nonEmpty(md);
}

function reorder<T extends object>(o: T, keys: string[]): T {
  const out: Record<string, unknown> = {};
  for (const k of keys) if ((o as Record<string, unknown>)[k] !== undefined) out[k] = (o as Record<string, unknown>)[k];
  return out as T;
}

/** Helm's Metadata.Validate: sanitises strings and checks the required fields (the messages are Helm's). */
export function validateMetadata(md: ChartMetadata): ChartMetadata {
  const s = (v: string | undefined) => (v === undefined ? undefined : sanitize(v));
  const out: ChartMetadata = nonEmpty({
    ...md,
    name: s(md.name),
    description: s(md.description),
    home: s(md.home),
    icon: s(md.icon),
    condition: s(md.condition),
    tags: s(md.tags),
    appVersion: s(md.appVersion),
    kubeVersion: s(md.kubeVersion),
    sources: md.sources?.map(sanitize),
    keywords: md.keywords?.map(sanitize),
    maintainers: md.maintainers?.map((m) => nonEmpty({ name: s(m.name), email: s(m.email), url: s(m.url) })),
    dependencies: md.dependencies?.map((d) =>
      reorder(
        nonEmpty({
          ...d,
          name: sanitize(d.name),
          version: s(d.version),
          repository: sanitize(d.repository),
          condition: s(d.condition),
          tags: d.tags?.map(sanitize),
        }),
        ['name', 'version', 'repository', 'condition', 'tags', 'enabled', 'import-values', 'alias'],
      ),
    ),
  });
  for (const d of out.dependencies ?? []) {
    d.name ??= '';
    d.repository ??= '';
  }
  const ordered = reorder(out, [
    'name',
    'home',
    'sources',
    'version',
    'description',
    'keywords',
    'maintainers',
    'icon',
    'apiVersion',
    'condition',
    'tags',
    'appVersion',
    'deprecated',
    'annotations',
    'kubeVersion',
    'dependencies',
    'type',
  ]);
  if (ordered.annotations) ordered.annotations = sortedMap(ordered.annotations);
  const bad = (m: string) => new ChartError(`validation: ${m}`);
  if (!ordered.apiVersion) throw bad('chart.metadata.apiVersion is required');
  if (!ordered.name) throw bad('chart.metadata.name is required');
  if (ordered.name === '.' || ordered.name === '..') throw bad(`chart.metadata.name "${ordered.name}" is not allowed`);
  if (ordered.name.includes('/')) throw bad(`chart.metadata.name "${ordered.name}" is invalid`);
  if (!ordered.version) throw bad('chart.metadata.version is required');
  if (!LOOSE_SEMVER.test(ordered.version)) throw bad(`chart.metadata.version "${ordered.version}" is invalid`);
  if (ordered.type !== undefined && !['application', 'library'].includes(ordered.type))
    throw bad('chart.metadata.type must be application or library');
  const seen = new Set<string>();
  for (const d of ordered.dependencies ?? []) {
    if (d.alias !== undefined && !/^[a-zA-Z0-9_-]+$/.test(d.alias))
      throw bad(`dependency "${d.name}" has disallowed characters in the alias`);
    const key = d.alias ?? d.name;
    if (seen.has(key)) throw bad(`more than one dependency with name or alias "${key}"`);
    seen.add(key);
  }
  return ordered;
}

/** The config blob of a chart: json.Marshal(chart.Metadata). */
export function metadataConfigJson(md: ChartMetadata): Buffer {
  return Buffer.from(goJson(md));
}

/**
 * Any JSON-shaped value as sigs.k8s.io/yaml writes it (json.Marshal -> yaml.v2): map keys sorted, sequences
 * not indented, strings quoted only where YAML 1.1 would read them as something else.
 */
export function goYaml(value: unknown): string {
  const plain = JSON.parse(JSON.stringify(value)) as unknown;
  return stringifyYaml(plain, {
    version: '1.1',
    sortMapEntries: true,
    indentSeq: false,
    singleQuote: false,
    lineWidth: 80,
    minContentWidth: 0,
  });
}

/** Chart.yaml as `helm package` writes it into the archive (and `helm chart export` onto disk). */
export function chartYaml(md: ChartMetadata): Buffer {
  const copy: ChartMetadata = { ...md };
  // Helm drops the dependencies of an apiVersion v1 chart from Chart.yaml (they live in requirements.yaml).
  if (copy.apiVersion === 'v1') delete copy.dependencies;
  return Buffer.from(goYaml(copy));
}
