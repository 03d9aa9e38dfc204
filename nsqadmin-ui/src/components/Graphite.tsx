// Graphite-rendered sparklines, shown only when nsqadmin has --graphite-url.

import { config } from '../config';
import { graphiteTarget, metricPath, sparklineImageUrl } from '../lib/graphite';
import { normalizeBase } from '../lib/paths';
import { useGraphInterval } from './graphInterval';

const formats = () => ({
  counterFormat: config.statsdCounterFormat,
  gaugeFormat: config.statsdGaugeFormat,
  statsdPrefix: config.statsdPrefix,
});

function renderBase(): string {
  // An empty GRAPHITE_URL means nsqadmin proxies graphite at <base>render.
  return config.graphiteUrl || normalizeBase(config.basePath).replace(/\/$/, '');
}

function GraphiteImage({ target, label, width, height }: { target: string; label: string; width: number; height: number }) {
  const interval = useGraphInterval();
  return (
    <figure>
      <figcaption>{label}</figcaption>
      <img
        src={sparklineImageUrl(renderBase(), target, interval, width, height)}
        alt={`graphite ${label}`}
        width={width}
        height={height}
        data-testid="graphite-img"
      />
    </figure>
  );
}

/** Depth and message-count graphs of a topic or channel, summed over every node. */
export function GraphiteSparks({ topic, channel }: { topic: string; channel: string | null }) {
  if (!config.graphEnabled) return null;
  return (
    <div className="graphite">
      {['depth', 'message_count'].map((m) => (
        <GraphiteImage
          key={m}
          target={graphiteTarget(formats(), '*', metricPath(topic, channel, m), m)}
          label={`graphite ${m}`}
          width={240}
          height={40}
        />
      ))}
    </div>
  );
}

/** The runtime graphs of one nsqd. */
export function GraphiteNodeSparks({ node }: { node: string }) {
  if (!config.graphEnabled) return null;
  return (
    <div className="graphite">
      {['gc_pause_usec_99', 'gc_runs', 'heap_objects'].map((m) => (
        <GraphiteImage
          key={m}
          target={graphiteTarget(formats(), node, `mem.${m}`, m)}
          label={`graphite ${m}`}
          width={240}
          height={40}
        />
      ))}
    </div>
  );
}

/** Messages processed by every channel on every node. */
export function GraphiteCounter() {
  if (!config.graphEnabled) return null;
  return (
    <div className="graphite graphite-big">
      <GraphiteImage
        target={graphiteTarget(formats(), '*', 'topic.*.channel.*.message_count', 'message_count')}
        label="graphite messages processed"
        width={640}
        height={160}
      />
    </div>
  );
}
