import { describe, expect, it } from 'vitest';
import { commafy, formatNanos, formatRate, formatSeconds, percent, quantileLabel } from './format';

describe('commafy', () => {
  it('groups thousands', () => {
    expect(commafy(0)).toBe('0');
    expect(commafy(999)).toBe('999');
    expect(commafy(1000)).toBe('1,000');
    expect(commafy(1234567)).toBe('1,234,567');
    expect(commafy(-98765)).toBe('-98,765');
  });
  it('truncates fractions and shows a dash for missing values', () => {
    expect(commafy(1234.9)).toBe('1,234');
    expect(commafy(null)).toBe('-');
    expect(commafy(undefined)).toBe('-');
    expect(commafy(Number.NaN)).toBe('-');
  });
});

describe('formatRate', () => {
  it('uses fewer decimals as rates grow', () => {
    expect(formatRate(null)).toBe('-');
    expect(formatRate(0)).toBe('0');
    expect(formatRate(0.25)).toBe('0.25');
    expect(formatRate(12.5)).toBe('12.5');
    expect(formatRate(1234.4)).toBe('1,234');
  });
});

describe('durations', () => {
  it('formats nanoseconds', () => {
    expect(formatNanos(850)).toBe('850ns');
    expect(formatNanos(12_300)).toBe('12.3µs');
    expect(formatNanos(4_500_000)).toBe('4.5ms');
    expect(formatNanos(2_000_000)).toBe('2ms');
    expect(formatNanos(1_200_000_000)).toBe('1.2s');
    expect(formatNanos(200e9)).toBe('3m20s');
  });
  it('formats seconds', () => {
    expect(formatSeconds(0.5)).toBe('0.5s');
    expect(formatSeconds(75)).toBe('1m15s');
    expect(formatSeconds(7260)).toBe('2h1m');
    expect(formatSeconds(90000)).toBe('1d1h');
  });
});

describe('labels', () => {
  it('names quantiles', () => {
    expect(quantileLabel(0.99)).toBe('p99');
    expect(quantileLabel(0.999)).toBe('p99.9');
    expect(quantileLabel(0.5)).toBe('p50');
    expect(quantileLabel(1)).toBe('p100');
  });
  it('computes percentages', () => {
    expect(percent(1, 3)).toBe('33.3%');
    expect(percent(1, 2)).toBe('50%');
    expect(percent(5, 0)).toBe('0%');
  });
});
