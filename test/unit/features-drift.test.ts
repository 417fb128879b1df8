import { describe, expect, it } from 'vitest';
import { detectDrift, type StatPoint } from '../../features/drift.ts';

const point = (null_fraction: number, mean: number | null, distinct_count: number): StatPoint => ({ null_fraction, mean, distinct_count });

describe('drift', () => {
  const history = [point(0.1, 10, 100), point(0.12, 11, 102), point(0.11, 9, 98), point(0.1, 10, 100)];

  it('flags a statistic more than k standard deviations from recent runs', () => {
    const flags = detectDrift(point(0.11, 25, 101), history, 2.5);
    expect(flags.map((f) => f.metric)).toEqual(['mean']);
    expect(flags[0]!.mean).toBe(10);
    expect(flags[0]!.z).toBeGreaterThan(2.5);
  });

  it('does not flag normal variation, and honours k', () => {
    expect(detectDrift(point(0.105, 11, 101), history, 2.5)).toEqual([]);
    expect(detectDrift(point(0.11, 11.5, 101), history, 2.5)).toEqual([]);
    expect(detectDrift(point(0.11, 11.5, 101), history, 1).map((f) => f.metric)).toEqual(['mean']);
  });

  it('needs a few earlier runs, and floors the deviation of a perfectly stable history', () => {
    expect(detectDrift(point(0.9, 100, 5), history.slice(0, 2), 2.5)).toEqual([]);
    const stable = [point(0.3, 50, 10), point(0.3, 50, 10), point(0.3, 50, 10)];
    expect(detectDrift(point(0.3, 50.2, 10), stable, 2.5)).toEqual([]);
    expect(detectDrift(point(0.5, 50, 10), stable, 2.5).map((f) => f.metric)).toEqual(['null_fraction']);
  });

  it('ignores metrics a feature does not have (strings have no mean)', () => {
    expect(detectDrift(point(0.1, null, 100), history, 2.5)).toEqual([]);
  });
});
