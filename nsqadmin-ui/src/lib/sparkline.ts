// Scaling a series of values into an SVG polyline inside a small box.

export interface Box {
  width: number;
  height: number;
  /** inner margin so that the stroke is not clipped */
  pad: number;
}

export interface Scaled {
  /** "x,y x,y ..." for <polyline points> */
  points: string;
  /** closed path for the area under the line */
  area: string;
  min: number;
  max: number;
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}

/**
 * Maps values to box coordinates: the x axis spreads the samples evenly
 * (a series with one value is drawn as a flat line), the y axis runs from 0
 * (or the minimum when negative) at the bottom to the maximum at the top.
 * A flat series of zeros sits on the bottom edge.
 */
export function scaleSeries(values: readonly number[], box: Box): Scaled | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  const series = finite.length === 1 ? [finite[0], finite[0]] : finite;
  const max = Math.max(0, ...series);
  const min = Math.min(0, ...series);
  const span = max - min;
  const w = box.width - 2 * box.pad;
  const h = box.height - 2 * box.pad;
  const bottom = box.pad + h;
  const coords = series.map((v, i) => {
    const x = box.pad + (i * w) / (series.length - 1);
    const y = span === 0 ? bottom : box.pad + h - ((v - min) / span) * h;
    return [round(x), round(y)] as const;
  });
  const points = coords.map(([x, y]) => `${x},${y}`).join(' ');
  const first = coords[0];
  const last = coords[coords.length - 1];
  const area = `M${first[0]},${bottom} L${coords.map(([x, y]) => `${x},${y}`).join(' L')} L${last[0]},${bottom} Z`;
  return { points, area, min, max };
}
