// Number and time formatting for the tables.

/** 1234567 → "1,234,567". Non-finite values show as "-". */
export function commafy(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  const negative = n < 0;
  const whole = Math.trunc(Math.abs(n)).toString();
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return negative ? `-${grouped}` : grouped;
}

/** A rate in messages per second: null → "-", 0.25 → "0.25", 12.5 → "12.5", 1234 → "1,234". */
export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return '-';
  if (rate === 0) return '0';
  if (Math.abs(rate) < 10) return rate.toFixed(2);
  if (Math.abs(rate) < 100) return rate.toFixed(1);
  return commafy(Math.round(rate));
}

/** A duration given in nanoseconds, with a unit picked for readability: "850ns", "12.3µs", "4.5ms", "1.2s", "3m20s", "2h5m", "3d4h". */
export function formatNanos(ns: number | null | undefined): string {
  if (ns === null || ns === undefined || !Number.isFinite(ns)) return '-';
  if (ns < 1e3) return `${Math.round(ns)}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  return formatSeconds(ns / 1e9);
}

/** A duration in seconds: 0.5 → "0.5s", 75 → "1m15s", 7260 → "2h1m", 90000 → "1d1h". */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '-';
  if (s < 60) return `${trim(s)}s`;
  const total = Math.floor(s);
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  return `${m}m${sec}s`;
}

function trim(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1).replace(/\.0$/, '');
}

/** A quantile as a column title: 0.99 → "p99", 0.999 → "p99.9", 1 → "p100". */
export function quantileLabel(q: number): string {
  const pct = Math.round(q * 100000) / 1000;
  return `p${pct}`;
}

/** A share as a percentage with one decimal: (1, 3) → "33.3%"; a zero total → "0%". */
export function percent(part: number, total: number): string {
  if (!total) return '0%';
  const p = (part / total) * 100;
  return `${p.toFixed(1).replace(/\.0$/, '')}%`;
}
