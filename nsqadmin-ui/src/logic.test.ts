import { describe, expect, it } from 'vitest';
import type { Client } from './api';
import { totalProcessed } from './pages/Counter';
import { closeness } from './pages/Channel';
import { validName } from './pages/Lookup';

describe('counter', () => {
  it('sums every channel on every node', () => {
    const entry = (n: number) => ({ node: 'n', topic_name: 't', channel_name: 'c', message_count: n });
    expect(totalProcessed({ message: '', stats: { a: entry(3), b: entry(4) } })).toBe(7);
    expect(totalProcessed({ message: '', stats: null })).toBe(0);
  });
});

describe('client closeness', () => {
  const base = { topology_zone: 'z1', topology_region: 'r1', node_topology_zone: 'z1', node_topology_region: 'r1' };
  it('marks same zone, same region, or neither', () => {
    expect(closeness(base as Client)).toBe('zone');
    expect(closeness({ ...base, topology_zone: 'z2' } as Client)).toBe('region');
    expect(closeness({ ...base, topology_zone: 'z2', topology_region: 'r2' } as Client)).toBe('');
    expect(closeness({} as Client)).toBe('');
  });
});

describe('names', () => {
  it('accepts NSQ topic and channel names', () => {
    expect(validName('orders')).toBe(true);
    expect(validName('a.b_c-d')).toBe(true);
    expect(validName('tail#ephemeral')).toBe(true);
    expect(validName('')).toBe(false);
    expect(validName('bad name')).toBe(false);
    expect(validName('x'.repeat(65))).toBe(false);
  });
});
