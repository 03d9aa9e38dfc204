import { api, type ChannelStats, type Client } from '../api';
import { ActionBanners, ActionButton, useActions } from '../components/Actions';
import { Banner, MessageBanner, Notice } from '../components/Banner';
import { BigCharts } from '../components/BigCharts';
import { Charts, E2eCells, E2eHeaders, MemDisk, Num, PausedBadge, quantilesOf, RateCell } from '../components/Cells';
import { GraphiteSparks } from '../components/Graphite';
import { config } from '../config';
import { store, usePoll } from '../hooks';
import { commafy, formatNanos, formatSeconds, percent } from '../lib/format';
import { channelKey, channelNodeKey } from '../lib/rates';
import { recordChannel } from '../record';
import { go, Link } from '../router';

function Delivery({ c }: { c: ChannelStats }) {
  const total = c.delivery_msg_count ?? 0;
  if (total <= 0) return <td className="muted">-</td>;
  return (
    <td
      className="delivery"
      title={`${commafy(total)} messages delivered: zone-local ${commafy(c.zone_local_msg_count ?? 0)}, region-local ${commafy(
        c.region_local_msg_count ?? 0,
      )}, global ${commafy(c.global_msg_count ?? 0)}`}
    >
      <span className="badge badge-zone">{percent(c.zone_local_msg_count ?? 0, total)}</span>
      <span className="badge badge-region">{percent(c.region_local_msg_count ?? 0, total)}</span>
      <span className="badge">{percent(c.global_msg_count ?? 0, total)}</span>
    </td>
  );
}

/** Same zone as the node → "zone", same region → "region", else "". */
export function closeness(c: Client): 'zone' | 'region' | '' {
  if (c.topology_zone && c.node_topology_zone && c.topology_zone === c.node_topology_zone) {
    if (!c.topology_region || !c.node_topology_region || c.topology_region === c.node_topology_region) return 'zone';
  }
  if (c.topology_region && c.node_topology_region && c.topology_region === c.node_topology_region) return 'region';
  return '';
}

function connectedFor(c: Client): string {
  if (typeof c.connected === 'number' && c.connected > 0) return formatNanos(c.connected);
  if (c.connect_ts > 0) return formatSeconds(Math.max(0, Date.now() / 1000 - c.connect_ts));
  return '-';
}

function Attributes({ c }: { c: Client }) {
  return (
    <td className="attrs">
      {c.sample_rate > 0 && <span className="badge badge-info">sampled {c.sample_rate}%</span>}
      {c.tls && (
        <span className="badge badge-good" title={[c.tls_version, c.tls_cipher_suite].filter(Boolean).join(' ')}>
          TLS
        </span>
      )}
      {c.deflate && <span className="badge badge-info">Deflate</span>}
      {c.snappy && <span className="badge badge-info">Snappy</span>}
      {c.authed && (
        <span className="badge badge-good" title={c.auth_identity || ''}>
          {c.auth_identity_url ? (
            <a href={c.auth_identity_url} target="_blank" rel="noreferrer">
              Authed
            </a>
          ) : (
            'Authed'
          )}
        </span>
      )}
    </td>
  );
}

export function ClientsTable({ clients, showNode }: { clients: Client[]; showNode: boolean }) {
  return (
    <div className="scroll"><table className="grid clients" data-testid="clients-table">
      <thead>
        <tr>
          <th>Client Host</th>
          <th>User-Agent</th>
          <th>Attributes</th>
          {showNode && <th>NSQd Host</th>}
          <th className="num">In-Flight</th>
          <th className="num">Ready Count</th>
          <th className="num">Requeued</th>
          <th className="num">Finished</th>
          <th className="num">Messages</th>
          <th className="num">Connected</th>
        </tr>
      </thead>
      <tbody>
        {clients.map((c) => {
          const near = closeness(c);
          return (
            <tr
              key={`${c.node}/${c.client_id}/${c.remote_address}`}
              className={near ? `near-${near}` : undefined}
              data-testid="client-row"
              title={near ? `client in the same ${near} as its nsqd` : undefined}
            >
              <td title={c.remote_address}>
                {c.hostname || c.client_id}
                {c.client_id && c.client_id !== c.hostname && <span className="muted"> ({c.client_id})</span>}
              </td>
              <td>{c.user_agent || <span className="muted">{c.version}</span>}</td>
              <Attributes c={c} />
              {showNode && (
                <td>
                  <Link to={{ page: 'node', node: c.node }}>{c.node}</Link>
                </td>
              )}
              <Num value={c.in_flight_count} testId="in-flight" />
              <Num value={c.ready_count} testId="ready" />
              <Num value={c.requeue_count} testId="requeued" />
              <Num value={c.finish_count} testId="finished" />
              <Num value={c.message_count} testId="messages" />
              <td className="num">{connectedFor(c)}</td>
            </tr>
          );
        })}
      </tbody>
    </table></div>
  );
}

export function ChannelPage({ topic, channel }: { topic: string; channel: string }) {
  const poll = usePoll(`channel:${topic}:${channel}`, async () => {
    const c = await api.channel(topic, channel);
    recordChannel(c);
    store.notify();
    return c;
  });
  const actions = useActions();
  const c = poll.data;
  const nodes = c?.nodes ?? [];
  const clients = c?.clients ?? [];
  const quantiles = quantilesOf([c?.e2e_processing_latency, ...nodes.map((n) => n.e2e_processing_latency)]);
  const showDelivery = (c?.delivery_msg_count ?? 0) > 0;
  const series = store.get(channelKey(topic, channel));

  const act = (action: 'pause' | 'unpause' | 'empty', confirm?: string) =>
    actions.run({
      confirm,
      fn: () => api.channelAction(topic, channel, action),
      done: `Channel ${channel} ${action === 'empty' ? 'emptied' : `${action}d`}.`,
      after: poll.reload,
    });

  return (
    <section>
      <h2>
        <Link to={{ page: 'streams' }}>Topics</Link> / <Link to={{ page: 'topic', topic }}>{topic}</Link> /{' '}
        <span data-testid="channel-name">{channel}</span> {c && <PausedBadge paused={c.paused} />}
      </h2>
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      <MessageBanner message={c?.message} />
      <ActionBanners state={actions} />

      {config.isAdmin && c && (
        <div className="toolbar">
          <ActionButton
            kind="warn"
            testId="empty-channel"
            disabled={actions.busy}
            onClick={() => act('empty', `Empty every message queued for channel "${channel}"?`)}
          >
            Empty Queue
          </ActionButton>
          <ActionButton
            kind="danger"
            testId="delete-channel"
            disabled={actions.busy}
            onClick={() =>
              actions.run({
                confirm: `Delete channel "${channel}" of topic "${topic}"?`,
                fn: () => api.deleteChannel(topic, channel),
                done: `Channel ${channel} deleted.`,
                after: () => go({ page: 'topic', topic }),
              })
            }
          >
            Delete Channel
          </ActionButton>
          {c.paused ? (
            <ActionButton testId="unpause-channel" disabled={actions.busy} onClick={() => act('unpause')}>
              UnPause Channel
            </ActionButton>
          ) : (
            <ActionButton
              testId="pause-channel"
              disabled={actions.busy}
              onClick={() => act('pause', `Pause channel "${channel}"? Its consumers will stop receiving messages.`)}
            >
              Pause Channel
            </ActionButton>
          )}
        </div>
      )}

      {c && (
        <>
          <BigCharts series={series} label={`channel ${channel}`} />
          <GraphiteSparks topic={topic} channel={channel} />
          <h3>Channel Message Queue</h3>
          {nodes.length === 0 ? (
            <Notice>No nsqd has this channel.</Notice>
          ) : (
            <div className="scroll"><table className="grid" data-testid="channel-nodes-table">
              <thead>
                <tr>
                  <th>NSQd Host</th>
                  <th className="num">Depth</th>
                  <th className="num">Memory + Disk</th>
                  <th className="num">In-Flight</th>
                  <th className="num">Deferred</th>
                  <th className="num">Requeued</th>
                  <th className="num">Timed Out</th>
                  <th className="num">Messages</th>
                  <th className="num">Rate /s</th>
                  <th className="num">Connections</th>
                  {showDelivery && <th title="share of messages delivered to clients in the same zone, the same region, or anywhere">Delivery zone · region · global</th>}
                  <E2eHeaders quantiles={quantiles} />
                  <th>Depth · Rate</th>
                </tr>
              </thead>
              <tbody>
                {nodes.map((n) => {
                  const ns = store.get(channelNodeKey(topic, channel, n.node));
                  return (
                    <tr key={n.node} data-testid={`channel-node-${n.node}`}>
                      <td>
                        <Link to={{ page: 'node', node: n.node }}>{n.hostname ? `${n.hostname} (${n.node})` : n.node}</Link>{' '}
                        <PausedBadge paused={n.paused} />
                      </td>
                      <Num value={n.depth} testId="depth" />
                      <MemDisk memory={n.memory_depth} disk={n.backend_depth} />
                      <Num value={n.in_flight_count} testId="in-flight" />
                      <Num value={n.deferred_count} testId="deferred" />
                      <Num value={n.requeue_count} testId="requeued" />
                      <Num value={n.timeout_count} testId="timed-out" />
                      <Num value={n.message_count} testId="messages" />
                      <RateCell series={ns} />
                      <Num value={n.client_count ?? n.clients?.length ?? 0} testId="connections" />
                      {showDelivery && <Delivery c={n} />}
                      <E2eCells e2e={n.e2e_processing_latency} quantiles={quantiles} />
                      <Charts series={ns} label={n.node} />
                    </tr>
                  );
                })}
                <tr className="total" data-testid="channel-total">
                  <td>Total</td>
                  <Num value={c.depth} testId="depth" />
                  <MemDisk memory={c.memory_depth} disk={c.backend_depth} testId="memdisk" />
                  <Num value={c.in_flight_count} testId="in-flight" />
                  <Num value={c.deferred_count} testId="deferred" />
                  <Num value={c.requeue_count} testId="requeued" />
                  <Num value={c.timeout_count} testId="timed-out" />
                  <Num value={c.message_count} testId="messages" />
                  <RateCell series={series} testId="rate" />
                  <Num value={c.client_count ?? clients.length} testId="connections" />
                  {showDelivery && <Delivery c={c} />}
                  <E2eCells e2e={c.e2e_processing_latency} quantiles={quantiles} />
                  <Charts series={series} label={channel} />
                </tr>
              </tbody>
            </table></div>
          )}

          <h3>Clients</h3>
          {clients.length === 0 ? (
            <Notice>No clients are connected to this channel.</Notice>
          ) : (
            <ClientsTable clients={clients} showNode />
          )}
        </>
      )}
    </section>
  );
}
