import { describe, expect, it } from 'vitest';
import { rateBetween, Series, SeriesStore } from './rates';

describe('rateBetween', () => {
  it('divides the counter delta by the elapsed seconds', () => {
    expect(rateBetween({ t: 1000, count: 100, depth: 0 }, { t: 3000, count: 300, depth: 0 })).toBe(100);
    expect(rateBetween({ t: 0, count: 5, depth: 0 }, { t: 500, count: 6, depth: 0 })).toBe(2);
  });
  it('has no rate for the first sample', () => {
    expect(rateBetween(undefined, { t: 1000, count: 5, depth: 0 })).toBeNull();
  });
  it('treats a counter reset as unknown, not negative', () => {
    expect(rateBetween({ t: 0, count: 500, depth: 0 }, { t: 1000, count: 3, depth: 0 })).toBeNull();
  });
  it('ignores a clock that did not move forward', () => {
    expect(rateBetween({ t: 1000, count: 1, depth: 0 }, { t: 1000, count: 9, depth: 0 })).toBeNull();
    expect(rateBetween({ t: 2000, count: 1, depth: 0 }, { t: 1000, count: 9, depth: 0 })).toBeNull();
  });
});

describe('Series', () => {
  it('keeps depths and rates of the last N samples', () => {
    const s = new Series(3);
    s.push({ t: 0, count: 0, depth: 10 });
    s.push({ t: 1000, count: 50, depth: 20 });
    s.push({ t: 2000, count: 150, depth: 5 });
    s.push({ t: 4000, count: 250, depth: 7 });
    expect(s.depths()).toEqual([20, 5, 7]);
    expect(s.rates()).toEqual([50, 100, 50]);
    expect(s.rate()).toBe(50);
  });
  it('skips samples taken too close together', () => {
    const s = new Series(10);
    s.push({ t: 0, count: 0, depth: 1 });
    s.push({ t: 100, count: 10, depth: 2 });
    s.push({ t: 1000, count: 20, depth: 3 });
    expect(s.depths()).toEqual([1, 3]);
    expect(s.rate()).toBe(20);
  });
  it('reports no rate before the second sample', () => {
    const s = new Series(10);
    expect(s.rate()).toBeNull();
    s.push({ t: 0, count: 7, depth: 1 });
    expect(s.rate()).toBeNull();
    expect(s.rates()).toEqual([]);
  });
});

describe('SeriesStore', () => {
  it('creates series on demand and notifies subscribers', () => {
    const store = new SeriesStore(5);
    let calls = 0;
    const off = store.subscribe(() => calls++);
    store.record('topic:a', { t: 0, count: 0, depth: 0 });
    store.record('topic:a', { t: 1000, count: 10, depth: 0 });
    store.notify();
    expect(store.get('topic:a').rate()).toBe(10);
    expect(store.get('topic:b').points).toEqual([]);
    expect(calls).toBe(1);
    expect(store.getVersion()).toBe(1);
    off();
    store.notify();
    expect(calls).toBe(1);
  });
});
