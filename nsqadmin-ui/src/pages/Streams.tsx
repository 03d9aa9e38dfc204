import { api, ApiError, type TopicStats } from '../api';
import { Banner, MessageBanner } from '../components/Banner';
import { Charts, MemDisk, Num, PausedBadge, RateCell } from '../components/Cells';
import { store, usePoll } from '../hooks';
import { topicKey } from '../lib/rates';
import { recordTopic } from '../record';
import { Link } from '../router';

interface Row {
  name: string;
  stats: TopicStats | null;
  error: string | null;
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function loadStreams(): Promise<{ message: string; rows: Row[] }> {
  const list = await api.topics();
  const names = list.topics ?? [];
  const t = Date.now();
  const rows = await mapLimited(names, 4, async (name): Promise<Row> => {
    try {
      const stats = await api.topic(name);
      recordTopic(stats, t);
      return { name, stats, error: null };
    } catch (e) {
      return { name, stats: null, error: e instanceof ApiError ? e.message : String(e) };
    }
  });
  store.notify();
  return { message: list.message, rows };
}

export function StreamsPage() {
  const poll = usePoll('streams', loadStreams);
  const rows = poll.data?.rows ?? [];
  return (
    <section>
      <h2>Topics</h2>
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      <MessageBanner message={poll.data?.message} />
      {poll.loading && <p className="muted">Loading…</p>}
      {poll.data && rows.length === 0 && <div className="notice" data-testid="no-topics">No Topics Found</div>}
      {rows.length > 0 && (
        <div className="scroll"><table className="grid" data-testid="topics-table">
          <thead>
            <tr>
              <th>Topic</th>
              <th className="num">Depth</th>
              <th className="num">Memory + Disk</th>
              <th className="num">Messages</th>
              <th className="num">Rate /s</th>
              <th className="num">Channels</th>
              <th className="num">Nodes</th>
              <th>Depth · Rate</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.name} data-testid={`topic-row-${r.name}`}>
                <td>
                  <Link to={{ page: 'topic', topic: r.name }} testId="topic-link">
                    {r.name}
                  </Link>{' '}
                  {r.stats && <PausedBadge paused={r.stats.paused} />}
                </td>
                {r.stats ? (
                  <>
                    <Num value={r.stats.depth} testId="depth" />
                    <MemDisk memory={r.stats.memory_depth} disk={r.stats.backend_depth} />
                    <Num value={r.stats.message_count} testId="messages" />
                    <RateCell series={store.get(topicKey(r.name))} testId="rate" />
                    <Num value={r.stats.channels?.length ?? 0} testId="channels" />
                    <Num value={r.stats.nodes?.length ?? 0} testId="nodes" />
                    <Charts series={store.get(topicKey(r.name))} label={r.name} />
                  </>
                ) : (
                  <td colSpan={7} className="muted" title={r.error ?? ''}>
                    {r.error?.includes('502') ? 'no producers' : r.error}
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table></div>
      )}
    </section>
  );
}
