import { api, type Producer } from '../api';
import { Banner, MessageBanner, Notice } from '../components/Banner';
import { config } from '../config';
import { usePoll } from '../hooks';
import { Link } from '../router';

export function nodeId(p: Producer): string {
  return `${p.broadcast_address}:${p.http_port}`;
}

export function NodesPage() {
  const poll = usePoll('nodes', api.nodes);
  const nodes = poll.data?.nodes ?? [];
  const lookupdCount = config.lookupd.length;
  return (
    <section>
      <h2>NSQd Nodes ({nodes.length})</h2>
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      <MessageBanner message={poll.data?.message} />
      {poll.data && nodes.length === 0 && <Notice>No nsqd nodes found.</Notice>}
      {nodes.length > 0 && (
        <div className="scroll"><table className="grid" data-testid="nodes-table">
          <thead>
            <tr>
              <th>Hostname</th>
              <th>Broadcast Address</th>
              <th className="num">TCP Port</th>
              <th className="num">HTTP Port</th>
              <th>Version</th>
              <th>Region</th>
              <th>Zone</th>
              {lookupdCount > 0 && <th className="num">Lookupd Conns.</th>}
              <th>Topics</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((p) => {
              const conns = p.remote_addresses?.length ?? 0;
              const inconsistent = lookupdCount > 0 && conns !== lookupdCount;
              return (
                <tr key={`${p.broadcast_address}:${p.tcp_port}`} data-testid={`node-row-${nodeId(p)}`}>
                  <td>
                    <Link to={{ page: 'node', node: nodeId(p) }} testId="node-link">
                      {p.hostname || nodeId(p)}
                    </Link>
                  </td>
                  <td data-testid="broadcast">{p.broadcast_address}</td>
                  <td className="num" data-testid="tcp-port">
                    {p.tcp_port}
                  </td>
                  <td className="num" data-testid="http-port">
                    {p.http_port}
                  </td>
                  <td>
                    {p.version}{' '}
                    {p.out_of_date && (
                      <span className="badge badge-warn" title="older than the newest nsqd version in the cluster">
                        out of date
                      </span>
                    )}
                  </td>
                  <td>{p.topology_region || <span className="muted">-</span>}</td>
                  <td>{p.topology_zone || <span className="muted">-</span>}</td>
                  {lookupdCount > 0 && (
                    <td
                      className={`num ${inconsistent ? 'cell-warn' : ''}`}
                      title={(p.remote_addresses ?? []).join('\n') || 'no lookupd knows this node'}
                      data-testid="lookupd-conns"
                    >
                      {conns}
                      {inconsistent && ` ⚠ expected ${lookupdCount}`}
                    </td>
                  )}
                  <td className="topics-cell">
                    {(p.topics ?? []).map((t) => (
                      <Link
                        key={t.topic}
                        to={{ page: 'topic', topic: t.topic }}
                        className={`badge ${t.tombstoned ? 'badge-tombstoned' : 'badge-topic'}`}
                        title={t.tombstoned ? 'tombstoned on this node' : undefined}
                      >
                        {t.topic}
                      </Link>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table></div>
      )}
    </section>
  );
}
