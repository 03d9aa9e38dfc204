import { api } from '../api';
import { Banner, MessageBanner, Notice } from '../components/Banner';
import { GraphiteNodeSparks } from '../components/Graphite';
import { Charts, E2eCells, E2eHeaders, MemDisk, Num, PausedBadge, quantilesOf, RateCell } from '../components/Cells';
import { store, usePoll } from '../hooks';
import { commafy } from '../lib/format';
import { channelNodeKey, topicNodeKey } from '../lib/rates';
import { recordNodeTopics } from '../record';
import { Link } from '../router';
import { ClientsTable } from './Channel';

export function NodePage({ node }: { node: string }) {
  const poll = usePoll(`node:${node}`, async () => {
    const n = await api.node(node);
    recordNodeTopics(node, n.topics ?? []);
    store.notify();
    return n;
  });
  const n = poll.data;
  const topics = n?.topics ?? [];
  const channelCount = topics.reduce((acc, t) => acc + (t.channels?.length ?? 0), 0);
  return (
    <section>
      <h2>
        <Link to={{ page: 'nodes' }}>Nodes</Link> / <span data-testid="node-name">{node}</span>
      </h2>
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      <MessageBanner message={n?.message} />
      {n && (
        <>
          <GraphiteNodeSparks node={node} />
          <div className="totals">
            <div>
              <span className="label">Topics</span>
              <strong data-testid="total-topics">{commafy(topics.length)}</strong>
            </div>
            <div>
              <span className="label">Channels</span>
              <strong data-testid="total-channels">{commafy(channelCount)}</strong>
            </div>
            <div>
              <span className="label">Messages</span>
              <strong data-testid="total-messages">{commafy(n.total_messages)}</strong>
            </div>
            <div>
              <span className="label">Clients</span>
              <strong data-testid="total-clients">{commafy(n.total_clients)}</strong>
            </div>
          </div>
          {topics.length === 0 && <Notice>This node has no topics.</Notice>}
          {topics.map((t) => {
            const channels = t.channels ?? [];
            const quantiles = quantilesOf([t.e2e_processing_latency, ...channels.map((c) => c.e2e_processing_latency)]);
            const ts = store.get(topicNodeKey(t.topic_name, node));
            return (
              <div className="node-topic" key={t.topic_name} data-testid={`node-topic-${t.topic_name}`}>
                <div className="scroll"><table className="grid">
                  <thead>
                    <tr>
                      <th>Topic / Channel</th>
                      <th className="num">Depth</th>
                      <th className="num">Memory + Disk</th>
                      <th className="num">In-Flight</th>
                      <th className="num">Deferred</th>
                      <th className="num">Requeued</th>
                      <th className="num">Timed Out</th>
                      <th className="num">Messages</th>
                      <th className="num">Rate /s</th>
                      <th className="num">Connections</th>
                      <E2eHeaders quantiles={quantiles} />
                      <th>Depth · Rate</th>
                    </tr>
                  </thead>
                  <tbody>
                    <tr className="topic-head" data-testid="topic-head">
                      <td>
                        <Link to={{ page: 'topic', topic: t.topic_name }}>{t.topic_name}</Link> <PausedBadge paused={t.paused} />
                      </td>
                      <Num value={t.depth} testId="depth" />
                      <MemDisk memory={t.memory_depth} disk={t.backend_depth} />
                      <td />
                      <td />
                      <td />
                      <td />
                      <Num value={t.message_count} testId="messages" />
                      <RateCell series={ts} />
                      <td />
                      <E2eCells e2e={t.e2e_processing_latency} quantiles={quantiles} />
                      <Charts series={ts} label={t.topic_name} />
                    </tr>
                    {channels.length === 0 && (
                      <tr>
                        <td colSpan={11 + quantiles.length} className="muted indent">
                          no channels
                        </td>
                      </tr>
                    )}
                    {channels.map((c) => {
                      const cs = store.get(channelNodeKey(t.topic_name, c.channel_name, node));
                      const clients = c.clients ?? [];
                      return [
                        <tr key={c.channel_name} data-testid={`node-channel-${c.channel_name}`}>
                          <td className="indent">
                            <Link to={{ page: 'channel', topic: t.topic_name, channel: c.channel_name }}>
                              {c.channel_name}
                            </Link>{' '}
                            <PausedBadge paused={c.paused} />
                          </td>
                          <Num value={c.depth} testId="depth" />
                          <MemDisk memory={c.memory_depth} disk={c.backend_depth} />
                          <Num value={c.in_flight_count} testId="in-flight" />
                          <Num value={c.deferred_count} />
                          <Num value={c.requeue_count} />
                          <Num value={c.timeout_count} />
                          <Num value={c.message_count} testId="messages" />
                          <RateCell series={cs} />
                          <Num value={c.client_count ?? clients.length} testId="connections" />
                          <E2eCells e2e={c.e2e_processing_latency} quantiles={quantiles} />
                          <Charts series={cs} label={c.channel_name} />
                        </tr>,
                        clients.length > 0 && (
                          <tr key={`${c.channel_name}/clients`} className="nested">
                            <td colSpan={12 + quantiles.length} className="indent2">
                              <ClientsTable clients={clients.map((cl) => ({ ...cl, node: cl.node || node }))} showNode={false} />
                            </td>
                          </tr>
                        ),
                      ];
                    })}
                  </tbody>
                </table></div>
              </div>
            );
          })}
        </>
      )}
    </section>
  );
}
