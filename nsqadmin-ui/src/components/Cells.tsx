// Small pieces shared by the tables.

import type { E2eLatency, Percentile } from '../api';
import { commafy, formatNanos, formatRate, quantileLabel } from '../lib/format';
import { Sparkline } from './Sparkline';
import type { Series } from '../lib/rates';

export function Num({ value, testId }: { value: number | null | undefined; testId?: string }) {
  return (
    <td className="num" data-testid={testId}>
      {commafy(value ?? 0)}
    </td>
  );
}

/** "memory + disk" as two numbers. */
export function MemDisk({ memory, disk, testId }: { memory: number; disk: number; testId?: string }) {
  return (
    <td className="num memdisk" data-testid={testId}>
      {commafy(memory)} + {commafy(disk)}
    </td>
  );
}

export function RateCell({ series, testId }: { series: Series | undefined; testId?: string }) {
  const rate = series ? series.rate() : null;
  return (
    <td className="num rate" data-testid={testId} title="messages per second, from the last two polls">
      {formatRate(rate)}
    </td>
  );
}

export function Charts({ series, label }: { series: Series | undefined; label: string }) {
  return (
    <td className="charts">
      <div className="charts-inner">
      <Sparkline kind="depth" values={series ? series.depths() : []} label={`${label} depth`} format={commafy} />
      <Sparkline kind="rate" values={series ? series.rates() : []} label={`${label} msgs/s`} format={formatRate} />
      </div>
    </td>
  );
}

/** The quantiles present in a set of E2E latency objects, ascending. */
export function quantilesOf(list: (E2eLatency | null | undefined)[]): number[] {
  const qs = new Set<number>();
  for (const e of list) for (const p of e?.percentiles ?? []) qs.add(p.quantile);
  return [...qs].sort((a, b) => a - b);
}

export function E2eHeaders({ quantiles }: { quantiles: number[] }) {
  return (
    <>
      {quantiles.map((q) => (
        <th key={q} className="num" title="end-to-end processing latency">
          E2E {quantileLabel(q)}
        </th>
      ))}
    </>
  );
}

function percentileText(p: Percentile): { text: string; title: string } {
  const value = p.average ?? p.value;
  const parts = [`${quantileLabel(p.quantile)}`];
  if (p.min !== undefined) parts.push(`min ${formatNanos(p.min)}`);
  if (p.max !== undefined) parts.push(`max ${formatNanos(p.max)}`);
  return { text: formatNanos(value), title: parts.join(', ') };
}

export function E2eCells({ e2e, quantiles }: { e2e: E2eLatency | null | undefined; quantiles: number[] }) {
  return (
    <>
      {quantiles.map((q) => {
        // A window with no samples reports zeros, which would read as "instant".
        const p = e2e && e2e.count > 0 ? e2e.percentiles?.find((x) => x.quantile === q) : undefined;
        if (!p) return <td key={q} className="num muted">-</td>;
        const { text, title } = percentileText(p);
        return (
          <td key={q} className="num" title={title}>
            {text}
          </td>
        );
      })}
    </>
  );
}

export function PausedBadge({ paused }: { paused: boolean }) {
  return paused ? <span className="badge badge-paused">paused</span> : null;
}
