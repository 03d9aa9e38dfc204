import { scaleSeries } from '../lib/sparkline';

interface Props {
  values: readonly number[];
  width?: number;
  height?: number;
  kind: 'depth' | 'rate';
  label: string;
  format: (v: number) => string;
}

/** A tiny line chart of the recent history of one series. */
export function Sparkline({ values, width = 90, height = 24, kind, label, format }: Props) {
  const scaled = scaleSeries(values, { width, height, pad: 1.5 });
  const last = values.length > 0 ? values[values.length - 1] : null;
  const title =
    scaled && last !== null
      ? `${label}: now ${format(last)}, max ${format(scaled.max)} (last ${values.length} samples)`
      : `${label}: collecting samples…`;
  return (
    <svg
      className={`spark spark-${kind}`}
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={title}
    >
      <title>{title}</title>
      {scaled ? (
        <>
          <path className="spark-area" d={scaled.area} />
          <polyline className="spark-line" points={scaled.points} />
        </>
      ) : (
        <line className="spark-empty" x1={0} x2={width} y1={height - 1.5} y2={height - 1.5} />
      )}
    </svg>
  );
}
