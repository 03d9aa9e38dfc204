import { api } from '../api';
import { ActionBanners, ActionButton, useActions } from '../components/Actions';
import { Banner, MessageBanner, Notice } from '../components/Banner';
import { Charts, E2eCells, E2eHeaders, MemDisk, Num, PausedBadge, quantilesOf, RateCell } from '../components/Cells';
import { BigCharts } from '../components/BigCharts';
import { GraphiteSparks } from '../components/Graphite';
import { config } from '../config';
import { store, usePoll } from '../hooks';
import { channelKey, topicKey, topicNodeKey } from '../lib/rates';
import { recordTopic } from '../record';
import { go, Link } from '../router';

export function TopicPage({ topic }: { topic: string }) {
  const poll = usePoll(`topic:${topic}`, async () => {
    const t = await api.topic(topic);
    recordTopic(t);
    store.notify();
    return t;
  });
  const actions = useActions();
  const t = poll.data;
  const nodes = t?.nodes ?? [];
  const channels = t?.channels ?? [];
  const nodeQuantiles = quantilesOf([t?.e2e_processing_latency, ...nodes.map((n) => n.e2e_processing_latency)]);
  const chanQuantiles = quantilesOf(channels.map((c) => c.e2e_processing_latency));
  const topicSeries = store.get(topicKey(topic));

  return (
    <section>
      <h2>
        <Link to={{ page: 'streams' }}>Topics</Link> / <span data-testid="topic-name">{topic}</span>{' '}
        {t && <PausedBadge paused={t.paused} />}
      </h2>
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      {!t && poll.error?.startsWith('502') && <Notice>No producers exist for this topic.</Notice>}
      <MessageBanner message={t?.message} />
      <ActionBanners state={actions} />

      {config.isAdmin && t && (
        <div className="toolbar">
          <ActionButton
            kind="warn"
            testId="empty-topic"
            disabled={actions.busy}
            onClick={() =>
              actions.run({
                confirm: `Empty every message queued for topic "${topic}"?`,
                fn: () => api.topicAction(topic, 'empty'),
                done: `Topic ${topic} emptied.`,
                after: poll.reload,
              })
            }
          >
            Empty Queue
          </ActionButton>
          <ActionButton
            kind="danger"
            testId="delete-topic"
            disabled={actions.busy}
            onClick={() =>
              actions.run({
                confirm: `Delete topic "${topic}" and all of its channels?`,
                fn: () => api.deleteTopic(topic),
                done: `Topic ${topic} deleted.`,
                after: () => go({ page: 'streams' }),
              })
            }
          >
            Delete Topic
          </ActionButton>
          {t.paused ? (
            <ActionButton
              testId="unpause-topic"
              disabled={actions.busy}
              onClick={() =>
                actions.run({
                  fn: () => api.topicAction(topic, 'unpause'),
                  done: `Topic ${topic} unpaused.`,
                  after: poll.reload,
                })
              }
            >
              UnPause Topic
            </ActionButton>
          ) : (
            <ActionButton
              testId="pause-topic"
              disabled={actions.busy}
              onClick={() =>
                actions.run({
                  confirm: `Pause topic "${topic}"? Messages will queue up and no channel will receive them.`,
                  fn: () => api.topicAction(topic, 'pause'),
                  done: `Topic ${topic} paused.`,
                  after: poll.reload,
                })
              }
            >
              Pause Topic
            </ActionButton>
          )}
        </div>
      )}

      {t && (
        <>
          <BigCharts series={topicSeries} label={`topic ${topic}`} />
          <GraphiteSparks topic={topic} channel={null} />
          <h3>Topic Message Queue</h3>
          {nodes.length === 0 ? (
            <Notice>No producers exist for this topic.</Notice>
          ) : (
            <div className="scroll"><table className="grid" data-testid="topic-nodes-table">
              <thead>
                <tr>
                  <th>NSQd Host</th>
                  <th className="num">Depth</th>
                  <th className="num">Memory + Disk</th>
                  <th className="num">Messages</th>
                  <th className="num">Rate /s</th>
                  <th className="num">Channels</th>
                  <E2eHeaders quantiles={nodeQuantiles} />
                  <th>Depth · Rate</th>
                </tr>
              </thead>
              <tbody>
                {nodes.map((n) => (
                  <tr key={n.node} data-testid={`topic-node-${n.node}`}>
                    <td>
                      {config.isAdmin && (
                        <button
                          type="button"
                          className="tombstone"
                          title={`Tombstone topic ${topic} on ${n.node}: lookupd stops listing this producer and the node deletes the topic`}
                          data-testid="tombstone"
                          disabled={actions.busy}
                          onClick={() =>
                            actions.run({
                              confirm: `Tombstone topic "${topic}" on ${n.node}? The node will delete its copy of the topic.`,
                              fn: () => api.tombstone(n.node, topic),
                              done: `Topic ${topic} tombstoned on ${n.node}.`,
                              after: poll.reload,
                            })
                          }
                        >
                          ✘
                        </button>
                      )}{' '}
                      <Link to={{ page: 'node', node: n.node }}>{n.hostname ? `${n.hostname} (${n.node})` : n.node}</Link>{' '}
                      <PausedBadge paused={n.paused} />
                    </td>
                    <Num value={n.depth} testId="depth" />
                    <MemDisk memory={n.memory_depth} disk={n.backend_depth} />
                    <Num value={n.message_count} testId="messages" />
                    <RateCell series={store.get(topicNodeKey(topic, n.node))} />
                    <Num value={n.channels?.length ?? 0} />
                    <E2eCells e2e={n.e2e_processing_latency} quantiles={nodeQuantiles} />
                    <Charts series={store.get(topicNodeKey(topic, n.node))} label={n.node} />
                  </tr>
                ))}
                <tr className="total" data-testid="topic-total">
                  <td>Total</td>
                  <Num value={t.depth} testId="depth" />
                  <MemDisk memory={t.memory_depth} disk={t.backend_depth} testId="memdisk" />
                  <Num value={t.message_count} testId="messages" />
                  <RateCell series={topicSeries} testId="rate" />
                  <Num value={channels.length} testId="channels" />
                  <E2eCells e2e={t.e2e_processing_latency} quantiles={nodeQuantiles} />
                  <Charts series={topicSeries} label={topic} />
                </tr>
              </tbody>
            </table></div>
          )}

          <h3>Channel Message Queues</h3>
          {channels.length === 0 ? (
            <Notice>No channels exist for this topic.</Notice>
          ) : (
            <div className="scroll"><table className="grid" data-testid="channels-table">
              <thead>
                <tr>
                  <th>Channel</th>
                  <th className="num">Depth</th>
                  <th className="num">Memory + Disk</th>
                  <th className="num">In-Flight</th>
                  <th className="num">Deferred</th>
                  <th className="num">Requeued</th>
                  <th className="num">Timed Out</th>
                  <th className="num">Messages</th>
                  <th className="num">Rate /s</th>
                  <th className="num">Connections</th>
                  <E2eHeaders quantiles={chanQuantiles} />
                  <th>Depth · Rate</th>
                </tr>
              </thead>
              <tbody>
                {channels.map((c) => {
                  const series = store.get(channelKey(topic, c.channel_name));
                  return (
                    <tr key={c.channel_name} data-testid={`channel-row-${c.channel_name}`}>
                      <td>
                        <Link to={{ page: 'channel', topic, channel: c.channel_name }}>{c.channel_name}</Link>{' '}
                        <PausedBadge paused={c.paused} />
                      </td>
                      <Num value={c.depth} testId="depth" />
                      <MemDisk memory={c.memory_depth} disk={c.backend_depth} />
                      <Num value={c.in_flight_count} testId="in-flight" />
                      <Num value={c.deferred_count} testId="deferred" />
                      <Num value={c.requeue_count} testId="requeued" />
                      <Num value={c.timeout_count} testId="timed-out" />
                      <Num value={c.message_count} testId="messages" />
                      <RateCell series={series} />
                      <Num value={c.client_count ?? c.clients?.length ?? 0} testId="connections" />
                      <E2eCells e2e={c.e2e_processing_latency} quantiles={chanQuantiles} />
                      <Charts series={series} label={c.channel_name} />
                    </tr>
                  );
                })}
              </tbody>
            </table></div>
          )}
        </>
      )}
    </section>
  );
}
