// Feeds every fetched stats object into the shared history, so the rate and
// sparkline of a topic or channel keep growing whichever page fetched it.

import type { ChannelStats, TopicStats } from './api';
import { channelKey, channelNodeKey, topicKey, topicNodeKey } from './lib/rates';
import { store } from './hooks';

function sample(t: number, s: { message_count: number; depth: number }) {
  return { t, count: s.message_count ?? 0, depth: s.depth ?? 0 };
}

/** Records an aggregated channel and its per-node stats. */
export function recordChannel(c: ChannelStats, t = Date.now()): void {
  store.record(channelKey(c.topic_name, c.channel_name), sample(t, c));
  for (const n of c.nodes ?? []) store.record(channelNodeKey(c.topic_name, c.channel_name, n.node), sample(t, n));
}

/** Records an aggregated topic (node "*"): the topic, its nodes and its channels. */
export function recordTopic(topic: TopicStats, t = Date.now()): void {
  store.record(topicKey(topic.topic_name), sample(t, topic));
  for (const n of topic.nodes ?? []) store.record(topicNodeKey(topic.topic_name, n.node), sample(t, n));
  for (const c of topic.channels ?? []) recordChannel(c, t);
}

/** Records the per-node topics of the node page (not aggregated across nodes). */
export function recordNodeTopics(node: string, topics: TopicStats[], t = Date.now()): void {
  for (const topic of topics) {
    store.record(topicNodeKey(topic.topic_name, node), sample(t, topic));
    for (const c of topic.channels ?? []) store.record(channelNodeKey(c.topic_name, c.channel_name, node), sample(t, c));
  }
}
