import { commafy, formatRate } from '../lib/format';
import type { Series } from '../lib/rates';
import { Sparkline } from './Sparkline';

/** The larger depth and rate charts at the top of the topic and channel pages. */
export function BigCharts({ series, label }: { series: Series; label: string }) {
  const depths = series.depths();
  const rates = series.rates();
  const depthNow = depths.length ? depths[depths.length - 1] : null;
  const rateNow = series.rate();
  return (
    <div className="bigcharts">
      <figure>
        <figcaption>
          Depth <strong data-testid="big-depth">{commafy(depthNow)}</strong>
        </figcaption>
        <Sparkline kind="depth" values={depths} width={320} height={60} label={`${label} depth`} format={commafy} />
      </figure>
      <figure>
        <figcaption>
          Rate <strong data-testid="big-rate">{formatRate(rateNow)}</strong> msgs/s
        </figcaption>
        <Sparkline kind="rate" values={rates} width={320} height={60} label={`${label} msgs/s`} format={formatRate} />
      </figure>
      <p className="muted small">Computed in the browser from the last {depths.length} polls.</p>
    </div>
  );
}
