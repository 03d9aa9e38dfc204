// The globals the HTML shell served by nsqadmin defines before loading main.js.

import { normalizeBase } from './lib/paths';

declare global {
  interface Window {
    USER_AGENT?: string;
    VERSION?: string;
    GRAPHITE_URL?: string;
    GRAPH_ENABLED?: boolean;
    STATSD_COUNTER_FORMAT?: string;
    STATSD_GAUGE_FORMAT?: string;
    STATSD_INTERVAL?: number;
    STATSD_PREFIX?: string;
    NSQLOOKUPD?: string[];
    IS_ADMIN?: boolean;
    BASE_PATH?: string;
  }
}

export interface Config {
  userAgent: string;
  version: string;
  graphiteUrl: string;
  graphEnabled: boolean;
  statsdCounterFormat: string;
  statsdGaugeFormat: string;
  statsdInterval: number;
  statsdPrefix: string;
  lookupd: string[];
  isAdmin: boolean;
  basePath: string;
}

function readConfig(): Config {
  const w: Window | Record<string, undefined> = typeof window === 'undefined' ? {} : window;
  return {
    userAgent: w.USER_AGENT || 'nsqadmin/v1.3.0',
    version: w.VERSION || '',
    graphiteUrl: w.GRAPHITE_URL || '',
    graphEnabled: Boolean(w.GRAPH_ENABLED),
    statsdCounterFormat: w.STATSD_COUNTER_FORMAT || 'stats.counters.%s.count',
    statsdGaugeFormat: w.STATSD_GAUGE_FORMAT || 'stats.gauges.%s',
    statsdInterval: Number(w.STATSD_INTERVAL) || 60,
    statsdPrefix: w.STATSD_PREFIX ?? 'nsq.%s',
    lookupd: Array.isArray(w.NSQLOOKUPD) ? w.NSQLOOKUPD : [],
    isAdmin: Boolean(w.IS_ADMIN),
    basePath: normalizeBase(w.BASE_PATH),
  };
}

export const config: Config = readConfig();
