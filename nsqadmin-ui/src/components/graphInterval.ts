import { useSyncExternalStore } from 'react';

export const GRAPH_INTERVALS = ['1h', '2h', '12h', '24h', '48h', '168h'];
let current = GRAPH_INTERVALS[1];
const listeners = new Set<() => void>();

export function setGraphInterval(v: string): void {
  current = v;
  for (const l of listeners) l();
}

export function useGraphInterval(): string {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    () => current,
  );
}
