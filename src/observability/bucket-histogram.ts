import type { Metric } from "prom-client";

/**
 * A label-less Prometheus histogram whose `observe` allocates nothing: a bucket search over a typed array
 * and three number updates. prom-client's own Histogram builds a label object, a closure and a hash per
 * observation, which is fine per request and too much per task on the completion path.
 *
 * It answers the registry as prom-client's histograms do (`get()`, `reset()`), so it is registered with
 * {@link BucketHistogram.registerIn} and scraped like the others.
 */
export class BucketHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram";
  readonly aggregator = "sum";
  readonly #bounds: Float64Array;
  // Observations per bucket (not cumulative: summed when scraped); the last one is +Inf.
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  /** `buckets`: the upper bounds, increasing (+Inf is added). */
  constructor(name: string, help: string, buckets: readonly number[]) {
    this.name = name;
    this.help = help;
    this.#bounds = Float64Array.from(buckets);
    this.#counts = new Float64Array(buckets.length + 1);
  }

  /** Counts one value (a negative or non-finite one counts as 0, rather than throwing on the hot path). */
  observe(value: number): void {
    const v = value > 0 && Number.isFinite(value) ? value : 0;
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sum += v;
    this.#count++;
  }

  /** What the registry renders: cumulative buckets, then sum and count (prom-client's shape). */
  async get() {
    const values: Array<{ metricName: string; labels: { le?: string | number }; value: number }> = [];
    let cumulative = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      cumulative += this.#counts[i]!;
      values.push({ metricName: `${this.name}_bucket`, labels: { le: i < this.#bounds.length ? this.#bounds[i]! : "+Inf" }, value: cumulative });
    }
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.#sum });
    values.push({ metricName: `${this.name}_count`, labels: {}, value: this.#count });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }

  /** Adds it to `registry`; the registry only calls `get` and `reset`, which prom-client's types do not say. */
  registerIn(registry: { registerMetric(metric: Metric): void }): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}
