import { describe, expect, it } from 'vitest';
import { graphiteTarget, metricPath, nodePrefix, sparklineImageUrl } from './graphite';

const formats = { counterFormat: 'stats.counters.%s.count', gaugeFormat: 'stats.gauges.%s', statsdPrefix: 'nsq.%s' };

describe('graphite targets', () => {
  it('derives the node prefix like nsqd does', () => {
    expect(nodePrefix('nsq.%s', '127.0.0.1:4151')).toBe('nsq.127_0_0_1_4151.');
    expect(nodePrefix('nsq.%s', '*')).toBe('nsq.*.');
    expect(nodePrefix('', '*')).toBe('');
  });
  it('wraps counters and gauges in their formats', () => {
    expect(graphiteTarget(formats, '127.0.0.1:4151', metricPath('t', null, 'message_count'), 'message_count')).toBe(
      'stats.counters.nsq.127_0_0_1_4151.topic.t.message_count.count',
    );
    expect(graphiteTarget(formats, '*', metricPath('t', 'c', 'depth'), 'depth')).toBe(
      'sumSeries(stats.gauges.nsq.*.topic.t.channel.c.depth)',
    );
  });
  it('builds a render URL', () => {
    const url = sparklineImageUrl('http://g:8080/', 'a.b', '2h', 100, 20);
    expect(url.startsWith('http://g:8080/render?target=a.b&from=-2h&width=100&height=20')).toBe(true);
  });
});
