// Graphite targets for the statsd metrics nsqd emits (spec A-031), used only
// when nsqadmin runs with --graphite-url.

const COUNTERS = new Set(['message_count', 'requeue_count', 'timeout_count', 'gc_runs']);

/** The statsd prefix for a node: "%s" → host with '.' and ':' turned into '_'; '*' means every node. */
export function nodePrefix(statsdPrefix: string, node: string): string {
  const host = node === '*' ? '*' : node.replace(/[.:]/g, '_');
  let prefix = statsdPrefix.split('%s').join(host);
  if (prefix !== '' && !prefix.endsWith('.')) prefix += '.';
  return prefix;
}

export interface GraphiteFormats {
  counterFormat: string;
  gaugeFormat: string;
  statsdPrefix: string;
}

/** The metric path (without the statsd wrapper) of a topic or channel metric. */
export function metricPath(topic: string, channel: string | null, metric: string): string {
  const t = `topic.${topic}`;
  return channel ? `${t}.channel.${channel}.${metric}` : `${t}.${metric}`;
}

/** A full graphite target for a metric on a node ('*' = summed over all nodes). */
export function graphiteTarget(f: GraphiteFormats, node: string, path: string, metric: string): string {
  const key = nodePrefix(f.statsdPrefix, node) + path;
  const format = COUNTERS.has(metric) ? f.counterFormat : f.gaugeFormat;
  const full = format.split('%s').join(key);
  return node === '*' ? `sumSeries(${full})` : full;
}

/** The URL of a small sparkline image rendered by graphite. */
export function sparklineImageUrl(renderBase: string, target: string, interval: string, width = 120, height = 20): string {
  const q = new URLSearchParams({
    target,
    from: `-${interval}`,
    width: String(width),
    height: String(height),
    hideLegend: 'true',
    hideAxes: 'true',
    hideGrid: 'true',
    graphOnly: 'true',
    bgcolor: 'ffffff00',
    colorList: '2a6fb0',
  });
  return `${renderBase.replace(/\/+$/, '')}/render?${q.toString()}`;
}
