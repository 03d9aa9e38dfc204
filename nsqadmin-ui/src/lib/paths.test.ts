import { describe, expect, it } from 'vitest';
import { apiUrl, encodeSegment, joinPath, normalizeBase, parseRoute, routePath } from './paths';

describe('normalizeBase', () => {
  it('always yields /…/', () => {
    expect(normalizeBase('/')).toBe('/');
    expect(normalizeBase('')).toBe('/');
    expect(normalizeBase(undefined)).toBe('/');
    expect(normalizeBase('/admin')).toBe('/admin/');
    expect(normalizeBase('admin/')).toBe('/admin/');
    expect(normalizeBase('//a//b/')).toBe('/a/b/');
  });
});

describe('URL building', () => {
  it('joins api routes under the base path', () => {
    expect(apiUrl('/', ['topics'])).toBe('/api/topics');
    expect(apiUrl('/admin/', ['topics', 'orders'])).toBe('/admin/api/topics/orders');
    expect(apiUrl('/admin', ['topics'], { inactive: 'true' })).toBe('/admin/api/topics?inactive=true');
    expect(apiUrl('/', ['nodes', '127.0.0.1:4151'])).toBe('/api/nodes/127.0.0.1:4151');
  });
  it('escapes what a path segment cannot hold', () => {
    expect(encodeSegment('t#ephemeral')).toBe('t%23ephemeral');
    expect(encodeSegment('a/b')).toBe('a%2Fb');
    expect(joinPath('/x/', ['topics', 'c#ephemeral'])).toBe('/x/topics/c%23ephemeral');
  });
});

describe('routes', () => {
  it('parses every page under the root', () => {
    expect(parseRoute('/', '/')).toEqual({ page: 'streams' });
    expect(parseRoute('/topics', '/')).toEqual({ page: 'streams' });
    expect(parseRoute('/topics/t1', '/')).toEqual({ page: 'topic', topic: 't1' });
    expect(parseRoute('/topics/t1/c%23ephemeral', '/')).toEqual({ page: 'channel', topic: 't1', channel: 'c#ephemeral' });
    expect(parseRoute('/nodes', '/')).toEqual({ page: 'nodes' });
    expect(parseRoute('/nodes/127.0.0.1:4151', '/')).toEqual({ page: 'node', node: '127.0.0.1:4151' });
    expect(parseRoute('/counter', '/')).toEqual({ page: 'counter' });
    expect(parseRoute('/lookup/', '/')).toEqual({ page: 'lookup' });
    expect(parseRoute('/nope', '/').page).toBe('notfound');
  });
  it('parses under a base path', () => {
    expect(parseRoute('/admin', '/admin/')).toEqual({ page: 'streams' });
    expect(parseRoute('/admin/', '/admin/')).toEqual({ page: 'streams' });
    expect(parseRoute('/admin/topics/x', '/admin')).toEqual({ page: 'topic', topic: 'x' });
    expect(parseRoute('/other/topics/x', '/admin/').page).toBe('notfound');
  });
  it('round-trips through routePath', () => {
    const routes = [
      { page: 'streams' as const },
      { page: 'topic' as const, topic: 'a.b_c-d' },
      { page: 'channel' as const, topic: 't', channel: 'c#ephemeral' },
      { page: 'node' as const, node: '10.0.0.1:4151' },
      { page: 'nodes' as const },
      { page: 'counter' as const },
      { page: 'lookup' as const },
    ];
    for (const base of ['/', '/admin/']) {
      for (const r of routes) expect(parseRoute(routePath(base, r), base)).toEqual(r);
    }
  });
});
