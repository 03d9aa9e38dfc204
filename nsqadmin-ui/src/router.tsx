// Client-side navigation with the history API: the server answers every page
// path with the same shell, and the UI picks the page from location.pathname.

import { useSyncExternalStore, type MouseEvent, type ReactNode } from 'react';
import { config } from './config';
import { parseRoute, routePath, type Route } from './lib/paths';

const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  window.addEventListener('popstate', listener);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('popstate', listener);
  };
}

function currentPath(): string {
  return window.location.pathname;
}

export function navigate(path: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', path);
  else window.history.pushState(null, '', path);
  window.scrollTo(0, 0);
  for (const l of listeners) l();
}

export function go(route: Route, replace = false): void {
  navigate(routePath(config.basePath, route), replace);
}

export function useRoute(): Route {
  const path = useSyncExternalStore(subscribe, currentPath);
  return parseRoute(path, config.basePath);
}

export function Link(props: { to: Route; className?: string; title?: string; children: ReactNode; testId?: string }) {
  const href = routePath(config.basePath, props.to);
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    // Let the browser handle new-tab and other modified clicks.
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return (
    <a href={href} onClick={onClick} className={props.className} title={props.title} data-testid={props.testId}>
      {props.children}
    </a>
  );
}
