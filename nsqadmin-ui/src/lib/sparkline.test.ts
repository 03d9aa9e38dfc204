import { describe, expect, it } from 'vitest';
import { scaleSeries } from './sparkline';

const box = { width: 100, height: 20, pad: 0 };

describe('scaleSeries', () => {
  it('returns null without data', () => {
    expect(scaleSeries([], box)).toBeNull();
    expect(scaleSeries([Number.NaN], box)).toBeNull();
  });
  it('maps zero to the bottom and the maximum to the top', () => {
    const s = scaleSeries([0, 5, 10], box);
    expect(s?.points).toBe('0,20 50,10 100,0');
    expect(s?.max).toBe(10);
    expect(s?.min).toBe(0);
  });
  it('draws a single value as a flat line across the box', () => {
    expect(scaleSeries([4], box)?.points).toBe('0,0 100,0');
  });
  it('keeps an all-zero series on the bottom edge', () => {
    expect(scaleSeries([0, 0, 0], box)?.points).toBe('0,20 50,20 100,20');
  });
  it('anchors the y axis at zero for positive data', () => {
    // 5 and 10 do not stretch to the full height: 5 is half way up.
    expect(scaleSeries([5, 10], box)?.points).toBe('0,10 100,0');
  });
  it('respects the padding', () => {
    const s = scaleSeries([0, 10], { width: 100, height: 20, pad: 2 });
    expect(s?.points).toBe('2,18 98,2');
    expect(s?.area).toBe('M2,18 L2,18 L98,2 L98,18 Z');
  });
  it('handles negative values', () => {
    expect(scaleSeries([-10, 10], box)?.points).toBe('0,20 100,0');
  });
});
