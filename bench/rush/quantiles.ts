// Latency summaries with p95 and the mean (bench/lib/stats' summarize has p50/p99/max).

export interface Quantiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export function quantiles(values: ArrayLike<number>): Quantiles {
  const s = Float64Array.from(values).sort();
  const n = s.length;
  if (n === 0) return { count: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const at = (q: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i];
  return { count: n, p50: r1(at(0.5)), p95: r1(at(0.95)), p99: r1(at(0.99)), max: r1(s[n - 1]), mean: r1(sum / n) };
}

/** The q-quantile of an unsorted list (NaN when empty). */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
