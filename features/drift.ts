/**
 * Drift: a feature's statistic that moved more than `k` standard deviations from its values in
 * recent runs. Pure.
 */

/** The statistics drift is judged on. */
export const DRIFT_METRICS = ['null_fraction', 'mean', 'distinct_count'] as const;
export type DriftMetric = (typeof DRIFT_METRICS)[number];

export type StatPoint = Record<DriftMetric, number | null>;

export interface DriftFlag {
  metric: DriftMetric;
  value: number;
  /** Mean and standard deviation of the metric over the history. */
  mean: number;
  stddev: number;
  /** Distance from the mean in (floored) standard deviations. */
  z: number;
}

/** Fewer earlier runs than this say nothing about what is normal. */
export const MIN_HISTORY = 3;

/**
 * The metrics of `current` that lie more than `k` standard deviations from their mean over
 * `history` (earlier runs, any order). The deviation is floored at 1% of the mean's magnitude
 * (and 1e-9), so a perfectly stable history does not flag a rounding-sized move.
 */
export function detectDrift(current: StatPoint, history: StatPoint[], k: number): DriftFlag[] {
  const flags: DriftFlag[] = [];
  for (const metric of DRIFT_METRICS) {
    const value = current[metric];
    const past = history.map((h) => h[metric]).filter((v): v is number => v !== null && Number.isFinite(v));
    if (value === null || !Number.isFinite(value) || past.length < MIN_HISTORY) continue;
    const mean = past.reduce((a, b) => a + b, 0) / past.length;
    const stddev = Math.sqrt(past.reduce((a, b) => a + (b - mean) ** 2, 0) / past.length);
    const floored = Math.max(stddev, Math.abs(mean) * 0.01, 1e-9);
    const z = Math.abs(value - mean) / floored;
    if (z > k) flags.push({ metric, value, mean, stddev, z });
  }
  return flags;
}
