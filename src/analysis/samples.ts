// Latency values kept for quantiles. Exact while memory allows: every value is stored (8 bytes)
// and quantiles are read from the sorted values. Memory is bounded twice: per series
// (`maxPerSeries` values) and over all series (a shared budget of `maxTotal` values). A series
// past either bound keeps a uniform random sample of what it has seen (reservoir sampling,
// Vitter's algorithm R) in the values it holds, and reports its quantiles as not exact; its
// count, sum and maximum stay exact.

import { native } from '../capture/native';

export interface SampleBudget {
  /** Values a series may hold. */
  maxPerSeries: number;
  /** Values all series together may hold; `used` is what they hold now. */
  maxTotal: number;
  used: number;
}

export function sampleBudget(maxPerSeries: number, maxTotal: number): SampleBudget {
  return { maxPerSeries, maxTotal, used: 0 };
}

export interface Quantiles {
  count: number;
  /** Nearest-rank quantiles: the value at rank ceil(q * count) of the sorted values. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
  /** False when the series outgrew its memory bound and quantiles come from a uniform sample. */
  exact: boolean;
}

const QUANTILES = [0.5, 0.9, 0.99] as const;

/** The nearest-rank position (0-based) of quantile q among n sorted values. */
export function rankOf(q: number, n: number): number {
  return Math.max(0, Math.ceil(q * n) - 1);
}

/**
 * The values at `ranks` (ascending, each below `n`) of `values[0, n)` once sorted, as
 * `values.slice(0, n).sort()` would give them, found by selection instead (std::nth_element in
 * the addon, native/core/analysis/quantiles.h): O(n) where a sort is O(n log n), and native
 * because it runs once per series at the end of a run, where JavaScript would still be cold. No
 * NaN among the values (a sort places those). Reorders `values` in [0, n).
 */
export function valuesAtRanks(values: Float64Array, n: number, ranks: readonly number[]): number[] {
  return native().valuesAtRanks(values, n, ranks);
}

export class LatencySamples {
  private values = new Float64Array(16);
  private held = 0;
  count = 0;
  private sum = 0;
  private maximum = -Infinity;
  private sampled = false;
  private unordered = false; // a NaN was added: only a sort places it (last)

  constructor(
    private readonly budget: SampleBudget,
    private readonly random: () => number = Math.random,
  ) {}

  add(v: number): void {
    this.count++;
    this.sum += v;
    if (v !== v) this.unordered = true;
    if (v > this.maximum) this.maximum = v;
    if (!this.sampled && this.held < this.budget.maxPerSeries && this.budget.used < this.budget.maxTotal) {
      if (this.held === this.values.length) {
        const grown = new Float64Array(Math.min(this.values.length * 2, this.budget.maxPerSeries));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[this.held++] = v;
      this.budget.used++;
      return;
    }
    // Past the bound: each value seen replaces a held one with probability held/count.
    this.sampled = true;
    if (this.held === 0) return;
    const j = Math.floor(this.random() * this.count);
    if (j < this.held) this.values[j] = v;
  }

  /** Bytes of the array holding this series' values (what bounds its memory). */
  storedBytes(): number {
    return this.values.byteLength;
  }

  quantiles(): Quantiles {
    if (this.count === 0) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null, exact: true };
    const n = this.held;
    const ranks = QUANTILES.map((q) => rankOf(q, n));
    let values: (number | null)[] = [null, null, null];
    if (n && this.unordered) {
      const sorted = this.values.slice(0, n).sort();
      values = ranks.map((r) => sorted[r]);
    } else if (n) {
      // In place: the held values are a set (reservoir sampling replaces one at a random index).
      values = valuesAtRanks(this.values, n, ranks);
    }
    const [p50, p90, p99] = values;
    return { count: this.count, p50, p90, p99, max: this.maximum, mean: this.sum / this.count, exact: !this.sampled };
  }
}
