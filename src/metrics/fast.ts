// Counters and histograms for the per-request path. prom-client's own validate and hash the label
// object on every call (about a microsecond each); these resolve a label set once, so recording
// is an array increment. They plug into a prom-client Registry like any metric (name, help, type, get),
// and FastRegistry renders them from label strings formatted once per label set (prom-client formats
// every label of every line on every scrape: most of a scrape's CPU went there).
import { Registry } from 'prom-client';

type Labels = Record<string, string>;
interface Value {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** prom-client's escaping (registry.js escapeString / escapeLabelValue), so the text is the same byte for byte. */
const escapeString = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabelValue = (s: string) => escapeString(s).replace(/"/g, '\\"');
/** prom-client's getValueAsString. */
function valueString(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (!Number.isFinite(v)) return v < 0 ? '-Inf' : '+Inf';
  return `${v}`;
}

abstract class FastMetric<C> {
  private readonly children = new Map<string, { labels: Labels; child: C; text: string }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  protected abstract create(): C;

  /** The recorder of one label set (values in labelNames order); keep it, calls are then free. */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) throw new Error(`${this.name}: expected ${this.labelNames.length} label values`);
    const key = values.join('\u0000');
    let e = this.children.get(key);
    if (!e) {
      const labels: Labels = {};
      this.labelNames.forEach((n, i) => {
        labels[n] = values[i];
      });
      // `a="x",b="y"`: this label set as the exposition writes it.
      const text = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(values[i])}"`).join(',');
      e = { labels, child: this.create(), text };
      this.children.set(key, e);
    }
    return e.child;
  }

  protected entries(): Iterable<{ labels: Labels; child: C; text: string }> {
    return this.children.values();
  }

  reset(): void {
    this.children.clear();
  }

  /** The HELP and TYPE lines, as prom-client writes them. */
  protected header(): string[] {
    const name = escapeString(this.name);
    return [`# HELP ${name} ${escapeString(this.help)}`, `# TYPE ${name} ${(this as unknown as { type: string }).type}`];
  }

  /** This metric in the Prometheus text format (what prom-client's Registry.getMetricsAsString makes of get()). */
  abstract promString(): string;
}

export class CounterChild {
  value = 0;
  inc(by = 1): void {
    this.value += by;
  }
}

export class FastCounter extends FastMetric<CounterChild> {
  readonly type = 'counter';
  protected create(): CounterChild {
    return new CounterChild();
  }

  async get(): Promise<{ name: string; help: string; type: string; values: Value[]; aggregator: string }> {
    const values: Value[] = [];
    for (const { labels, child } of this.entries()) values.push({ labels, value: child.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  promString(): string {
    const lines = this.header();
    for (const { child, text } of this.entries()) lines.push(`${this.name}${text ? `{${text}}` : ''} ${valueString(child.value)}`);
    return lines.join('\n');
  }
}

export class HistogramChild {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly upper: readonly number[]) {
    this.counts = new Float64Array(upper.length);
  }

  observe(v: number): void {
    const u = this.upper;
    let i = 0;
    while (i < u.length && v > u[i]) i++;
    if (i < u.length) this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

export class FastHistogram extends FastMetric<HistogramChild> {
  readonly type = 'histogram';
  /** The `le` label of each bucket and of +Inf, as written. */
  private readonly le: string[];
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
    this.le = [...buckets.map((b) => `le="${escapeLabelValue(String(b))}"`), 'le="+Inf"'];
  }

  protected create(): HistogramChild {
    return new HistogramChild(this.buckets);
  }

  async get(): Promise<{ name: string; help: string; type: string; values: Value[]; aggregator: string }> {
    const values: Value[] = [];
    for (const { labels, child } of this.entries()) {
      let cumulative = 0;
      this.buckets.forEach((b, i) => {
        cumulative += child.counts[i];
        values.push({ labels: { ...labels, le: String(b) }, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: child.count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: child.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: 'sum' };
  }

  promString(): string {
    const lines = this.header();
    const bucket = `${this.name}_bucket{`;
    for (const { child, text } of this.entries()) {
      const pre = text ? `${bucket}${text},` : bucket;
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += child.counts[i];
        lines.push(`${pre}${this.le[i]}} ${valueString(cumulative)}`);
      }
      lines.push(`${pre}${this.le[this.buckets.length]}} ${valueString(child.count)}`);
      const labels = text ? `{${text}}` : '';
      lines.push(`${this.name}_sum${labels} ${valueString(child.sum)}`, `${this.name}_count${labels} ${valueString(child.count)}`);
    }
    return lines.join('\n');
  }
}

/**
 * A prom-client Registry that writes the fast metrics itself (same text) in the Prometheus format; with default
 * labels or in the OpenMetrics format it leaves them to prom-client.
 */
export class FastRegistry extends Registry {
  // Not in prom-client's typings, but what metrics() and getSingleMetricAsString() call for each metric.
  getMetricsAsString(metric: unknown): Promise<string> {
    if (
      metric instanceof FastMetric &&
      this.contentType === Registry.PROMETHEUS_CONTENT_TYPE &&
      Object.keys((this as unknown as { _defaultLabels: object })._defaultLabels).length === 0
    )
      return Promise.resolve(metric.promString());
    return promClientGetMetricsAsString.call(this, metric);
  }
}
const promClientGetMetricsAsString = (Registry.prototype as unknown as { getMetricsAsString(m: unknown): Promise<string> })
  .getMetricsAsString;
