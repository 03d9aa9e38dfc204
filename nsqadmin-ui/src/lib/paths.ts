// URL building under nsqadmin's --base-path, and the mapping from a browser
// path to one of the UI's pages.

/** Normalises a base path to start and end with exactly one slash. */
export function normalizeBase(base: string | undefined | null): string {
  const parts = (base ?? '').split('/').filter((p) => p !== '' && p !== '.');
  return parts.length === 0 ? '/' : `/${parts.join('/')}/`;
}

/** Encodes one path segment. Colons stay readable (node ids are host:port). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/gi, ':');
}

/** Joins the base path with already-split segments: ('/admin/', ['topics','t']) → '/admin/topics/t'. */
export function joinPath(base: string, segments: readonly string[]): string {
  const root = normalizeBase(base);
  if (segments.length === 0) return root;
  return root + segments.map(encodeSegment).join('/');
}

/** The URL of an /api route: apiUrl('/', ['topics', 'a']) → '/api/topics/a'. */
export function apiUrl(base: string, segments: readonly string[], query?: Record<string, string>): string {
  let url = joinPath(base, ['api', ...segments]);
  if (query) {
    const qs = new URLSearchParams(query).toString();
    if (qs) url += `?${qs}`;
  }
  return url;
}

export type Route =
  | { page: 'streams' }
  | { page: 'topic'; topic: string }
  | { page: 'channel'; topic: string; channel: string }
  | { page: 'nodes' }
  | { page: 'node'; node: string }
  | { page: 'counter' }
  | { page: 'lookup' }
  | { page: 'notfound'; path: string };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Maps a browser pathname (which includes the base path) to a page. */
export function parseRoute(pathname: string, base: string): Route {
  const root = normalizeBase(base);
  let rest: string;
  if (pathname === root.slice(0, -1) || pathname.startsWith(root)) {
    rest = pathname.slice(root.length);
  } else {
    return { page: 'notfound', path: pathname };
  }
  const parts = rest.split('/').filter((p) => p !== '').map(decode);
  const [head, a, b] = parts;
  if (parts.length === 0) return { page: 'streams' };
  if (head === 'topics') {
    if (parts.length === 1) return { page: 'streams' };
    if (parts.length === 2) return { page: 'topic', topic: a };
    if (parts.length === 3) return { page: 'channel', topic: a, channel: b };
  }
  if (head === 'nodes') {
    if (parts.length === 1) return { page: 'nodes' };
    if (parts.length === 2) return { page: 'node', node: a };
  }
  if (parts.length === 1 && head === 'counter') return { page: 'counter' };
  if (parts.length === 1 && head === 'lookup') return { page: 'lookup' };
  return { page: 'notfound', path: pathname };
}

/** The browser path of a page (inverse of parseRoute). */
export function routePath(base: string, route: Route): string {
  switch (route.page) {
    case 'streams':
      return joinPath(base, []);
    case 'topic':
      return joinPath(base, ['topics', route.topic]);
    case 'channel':
      return joinPath(base, ['topics', route.topic, route.channel]);
    case 'nodes':
      return joinPath(base, ['nodes']);
    case 'node':
      return joinPath(base, ['nodes', route.node]);
    case 'counter':
      return joinPath(base, ['counter']);
    case 'lookup':
      return joinPath(base, ['lookup']);
    case 'notfound':
      return route.path;
  }
}
