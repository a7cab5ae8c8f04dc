// Order statistics for benchmark samples. Percentiles use the nearest-rank definition (the
// smallest sample with at least p% of the samples at or below it), so every reported value is
// one that was actually measured, never an interpolation between two runs.

/** Returns the sorted finite numbers of `samples` (anything else is dropped). */
function sorted(samples) {
  return samples.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
}

/** Nearest-rank percentile, `p` in (0, 100]; null for no samples. */
export function percentile(samples, p) {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside (0, 100]`);
  const xs = sorted(samples);
  if (xs.length === 0) return null;
  const rank = Math.ceil((p / 100) * xs.length);
  return xs[Math.min(xs.length, Math.max(1, rank)) - 1];
}

/** The median; for an even count, the mean of the two middle samples. Null for no samples. */
export function median(samples) {
  const xs = sorted(samples);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** n, min, median, p90, p99, max of the samples (nulls when empty). */
export function summarize(samples) {
  const xs = sorted(samples);
  return {
    n: xs.length,
    min: xs.length ? xs[0] : null,
    median: median(xs),
    p90: percentile(xs, 90),
    p99: percentile(xs, 99),
    max: xs.length ? xs[xs.length - 1] : null,
  };
}

/**
 * A bootstrap interval for median(a) / median(b), the two sample sets taken as independent runs:
 * each of `iterations` draws resamples both with replacement, and the interval is the middle
 * `level` of the draws' ratios (nearest rank). Seeded, so the same samples always give the same
 * interval. Null when either side has no samples.
 */
export function ratioInterval(a, b, { iterations = 4000, level = 0.95, seed = 7 } = {}) {
  const xs = sorted(a);
  const ys = sorted(b);
  if (!xs.length || !ys.length) return null;
  // xorshift32: a small deterministic generator, uniform enough for resampling.
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
  const resample = (v) => median(v.map(() => v[Math.floor(next() * v.length)]));
  const draws = [];
  for (let i = 0; i < iterations; i++) {
    const r = ratio(resample(xs), resample(ys));
    if (r !== null) draws.push(r);
  }
  const tail = ((1 - level) / 2) * 100;
  return [percentile(draws, tail), percentile(draws, 100 - tail)];
}

/** a / b, or null when either is missing or b is zero. */
export function ratio(a, b) {
  if (typeof a !== "number" || typeof b !== "number" || b === 0) return null;
  return a / b;
}

/**
 * Least-squares slope of ys over their indexes (units of y per step), used to tell steady
 * growth per cycle from noise. Null for fewer than two points.
 */
export function slope(ys) {
  const pts = ys.map((y, x) => [x, y]).filter(([, y]) => Number.isFinite(y));
  if (pts.length < 2) return null;
  const n = pts.length;
  const mx = pts.reduce((s, [x]) => s + x, 0) / n;
  const my = pts.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of pts) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}
