// Polling of the API at the user's chosen refresh interval, and the shared
// rate/depth history the pages record into.

import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { SeriesStore } from './lib/rates';

export const REFRESH_CHOICES: { label: string; ms: number }[] = [
  { label: 'off', ms: 0 },
  { label: '2s', ms: 2000 },
  { label: '5s', ms: 5000 },
  { label: '10s', ms: 10000 },
  { label: '30s', ms: 30000 },
  { label: '1m', ms: 60000 },
];
const REFRESH_KEY = 'nsqadmin.refresh_ms';
const DEFAULT_REFRESH_MS = 5000;

let refreshMs = loadRefresh();
const refreshListeners = new Set<() => void>();

function loadRefresh(): number {
  try {
    const v = Number(window.localStorage.getItem(REFRESH_KEY));
    if (REFRESH_CHOICES.some((c) => c.ms === v) && window.localStorage.getItem(REFRESH_KEY) !== null) return v;
  } catch {
    // storage may be disabled; fall back to the default
  }
  return DEFAULT_REFRESH_MS;
}

export function setRefreshMs(ms: number): void {
  refreshMs = ms;
  try {
    window.localStorage.setItem(REFRESH_KEY, String(ms));
  } catch {
    // not persisted, still applied
  }
  for (const l of refreshListeners) l();
}

export function useRefreshMs(): number {
  return useSyncExternalStore(
    (l) => {
      refreshListeners.add(l);
      return () => refreshListeners.delete(l);
    },
    () => refreshMs,
  );
}

/** History of every series the UI has seen since the page was loaded. */
export const store = new SeriesStore(60);

export interface Poll<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
  updatedAt: number | null;
  reload: () => void;
}

/**
 * Runs `load` now and again every refresh interval (never two at once).
 * `key` identifies what is loaded: when it changes, the old data is dropped.
 * `intervalMs` overrides the user's refresh interval (the counter page polls faster).
 */
export function usePoll<T>(key: string, load: () => Promise<T>, intervalMs?: number): Poll<T> {
  const userMs = useRefreshMs();
  const every = intervalMs ?? userMs;
  const [state, setState] = useState<{ key: string; data: T | null; error: string | null; updatedAt: number | null }>(
    { key, data: null, error: null, updatedAt: null },
  );
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const data = await loadRef.current();
        if (cancelled) return;
        setState({ key, data, error: null, updatedAt: Date.now() });
      } catch (e) {
        if (cancelled) return;
        const msg = e instanceof Error ? e.message : String(e);
        setState((s) => ({ key, data: s.key === key ? s.data : null, error: msg, updatedAt: Date.now() }));
      }
      if (!cancelled && every > 0) timer = setTimeout(run, every);
    };
    void run();
    return () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
  }, [key, every, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const current = state.key === key;
  return {
    data: current ? state.data : null,
    error: current ? state.error : null,
    loading: !current || (state.data === null && state.error === null),
    updatedAt: current ? state.updatedAt : null,
    reload,
  };
}
