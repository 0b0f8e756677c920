// Latency samples and percentiles.

/** A growable Float64Array of samples (milliseconds). */
export class Samples {
  constructor(initial = 1 << 16) {
    this.buf = new Float64Array(initial);
    this.n = 0;
  }
  add(v) {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  reset() {
    this.n = 0;
  }
  summary() {
    return summarize(this.buf.subarray(0, this.n));
  }
}

/** {count, p50, p90, p99, max, mean} of a numeric array (ms, rounded to 0.1). */
export function summarize(values) {
  const n = values.length;
  if (!n) return { count: 0, p50: null, p90: null, p99: null, max: null, mean: null };
  const sorted = Float64Array.from(values).sort();
  const pick = (q) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const r = (v) => Math.round(v * 10) / 10;
  return { count: n, p50: r(pick(0.5)), p90: r(pick(0.9)), p99: r(pick(0.99)), max: r(sorted[n - 1]), mean: r(sum / n) };
}

export const round = (v, d = 1) => (v === null || v === undefined || Number.isNaN(v) ? null : Math.round(v * 10 ** d) / 10 ** d);
