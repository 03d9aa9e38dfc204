import { setGraphInterval, useGraphInterval, GRAPH_INTERVALS } from './components/graphInterval';
import { config } from './config';
import { REFRESH_CHOICES, setRefreshMs, useRefreshMs } from './hooks';
import type { Route } from './lib/paths';
import { ChannelPage } from './pages/Channel';
import { CounterPage } from './pages/Counter';
import { LookupPage } from './pages/Lookup';
import { NodePage } from './pages/Node';
import { NodesPage } from './pages/Nodes';
import { StreamsPage } from './pages/Streams';
import { TopicPage } from './pages/Topic';
import { Link, useRoute } from './router';

function section(route: Route): string {
  switch (route.page) {
    case 'streams':
    case 'topic':
    case 'channel':
      return 'streams';
    case 'nodes':
    case 'node':
      return 'nodes';
    default:
      return route.page;
  }
}

function NavBar({ route }: { route: Route }) {
  const refresh = useRefreshMs();
  const interval = useGraphInterval();
  const active = section(route);
  const item = (to: Route, label: string, key: string) => (
    <li className={active === key ? 'active' : undefined}>
      <Link to={to} testId={`nav-${key}`}>
        {label}
      </Link>
    </li>
  );
  return (
    <nav className="navbar">
      <Link to={{ page: 'streams' }} className="brand">
        nsqadmin
      </Link>
      <ul>
        {item({ page: 'streams' }, 'Streams', 'streams')}
        {item({ page: 'nodes' }, 'Nodes', 'nodes')}
        {item({ page: 'counter' }, 'Counter', 'counter')}
        {item({ page: 'lookup' }, 'Lookup', 'lookup')}
      </ul>
      <div className="nav-right">
        {config.graphEnabled && (
          <label title="time range of the graphite graphs">
            graphs
            <select value={interval} onChange={(e) => setGraphInterval(e.target.value)}>
              {GRAPH_INTERVALS.map((v) => (
                <option key={v} value={v}>
                  {v}
                </option>
              ))}
            </select>
          </label>
        )}
        <label title="how often the page polls nsqadmin">
          refresh
          <select
            value={refresh}
            onChange={(e) => setRefreshMs(Number(e.target.value))}
            data-testid="refresh-select"
          >
            {REFRESH_CHOICES.map((c) => (
              <option key={c.ms} value={c.ms}>
                {c.label}
              </option>
            ))}
          </select>
        </label>
        <span className="version" data-testid="version">
          {config.version ? `v${config.version.replace(/^v/, '')}` : ''}
        </span>
      </div>
    </nav>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'streams':
      return <StreamsPage />;
    case 'topic':
      return <TopicPage key={route.topic} topic={route.topic} />;
    case 'channel':
      return <ChannelPage key={`${route.topic}/${route.channel}`} topic={route.topic} channel={route.channel} />;
    case 'nodes':
      return <NodesPage />;
    case 'node':
      return <NodePage key={route.node} node={route.node} />;
    case 'counter':
      return <CounterPage />;
    case 'lookup':
      return <LookupPage />;
    case 'notfound':
      return (
        <section>
          <h2>Not found</h2>
          <p>
            No page at <code>{route.path}</code>. <Link to={{ page: 'streams' }}>Back to the topics</Link>.
          </p>
        </section>
      );
  }
}

export function App() {
  const route = useRoute();
  return (
    <>
      <NavBar route={route} />
      <main className="container">
        <Page route={route} />
      </main>
    </>
  );
}
