// Requests to nsqadmin's /api and the JSON shapes it returns (spec A-010..A-015).

import { config } from './config';
import { apiUrl } from './lib/paths';

export interface Percentile {
  quantile: number;
  value: number;
  min?: number;
  max?: number;
  average?: number;
  count?: number;
}

export interface E2eLatency {
  count: number;
  percentiles: Percentile[] | null;
}

interface DeliveryCounts {
  delivery_msg_count?: number;
  zone_local_msg_count?: number;
  region_local_msg_count?: number;
  global_msg_count?: number;
}

export interface Client {
  node: string;
  client_id: string;
  hostname: string;
  version: string;
  remote_address: string;
  state?: number;
  ready_count: number;
  in_flight_count: number;
  message_count: number;
  finish_count: number;
  requeue_count: number;
  connect_ts: number;
  connected?: number;
  sample_rate: number;
  deflate: boolean;
  snappy: boolean;
  user_agent: string;
  authed?: boolean;
  auth_identity?: string;
  auth_identity_url?: string;
  tls: boolean;
  tls_version?: string;
  tls_cipher_suite?: string;
  topology_zone?: string;
  topology_region?: string;
  node_topology_zone?: string;
  node_topology_region?: string;
}

export interface ChannelStats extends DeliveryCounts {
  node: string;
  hostname: string;
  topic_name: string;
  channel_name: string;
  depth: number;
  memory_depth: number;
  backend_depth: number;
  in_flight_count: number;
  deferred_count: number;
  requeue_count: number;
  timeout_count: number;
  message_count: number;
  client_count?: number;
  nodes: ChannelStats[] | null;
  clients: Client[] | null;
  paused: boolean;
  e2e_processing_latency?: E2eLatency | null;
}

export interface TopicStats extends DeliveryCounts {
  node: string;
  hostname: string;
  topic_name: string;
  depth: number;
  memory_depth: number;
  backend_depth: number;
  message_count: number;
  nodes: TopicStats[] | null;
  channels: ChannelStats[] | null;
  paused: boolean;
  e2e_processing_latency?: E2eLatency | null;
}

export interface ProducerTopic {
  topic: string;
  tombstoned: boolean;
}

export interface Producer {
  remote_addresses: string[] | null;
  remote_address: string;
  hostname: string;
  broadcast_address: string;
  tcp_port: number;
  http_port: number;
  version: string;
  topology_zone?: string;
  topology_region?: string;
  topics: ProducerTopic[] | null;
  out_of_date: boolean;
}

export interface WithMessage {
  message: string;
}

export type TopicsResponse = WithMessage & { topics: string[] | null };
export type InactiveTopicsResponse = WithMessage & { topics: Record<string, string[] | null> | null };
export type TopicResponse = WithMessage & TopicStats;
export type ChannelResponse = WithMessage & ChannelStats;
export type NodesResponse = WithMessage & { nodes: Producer[] | null };
export type NodeResponse = WithMessage & {
  node: string;
  topics: TopicStats[] | null;
  total_messages: number;
  total_clients: number;
};
export interface CounterEntry {
  node: string;
  topic_name: string;
  channel_name: string;
  message_count: number;
}
export type CounterResponse = WithMessage & { stats: Record<string, CounterEntry> | null };

export const REQUEST_TIMEOUT_MS = 20_000;

/** An /api failure: the HTTP status and the server's `message` (or a transport error). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function requestHeaders(): Record<string, string> {
  return {
    'X-UserAgent': config.userAgent,
    Accept: 'application/vnd.nsq; version=1.0',
    'Content-Type': 'application/json',
  };
}

/** Sends one request to /api/<segments> and returns the decoded JSON body. */
export async function request<T>(
  method: 'GET' | 'POST' | 'DELETE',
  segments: string[],
  opts: { query?: Record<string, string>; body?: unknown } = {},
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(apiUrl(config.basePath, segments, opts.query), {
      method,
      headers: requestHeaders(),
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: controller.signal,
      cache: 'no-store',
    });
  } catch (e) {
    const timedOut = controller.signal.aborted;
    throw new ApiError(timedOut ? 'request timed out after 20s' : `request failed: ${String(e)}`, 0);
  } finally {
    clearTimeout(timer);
  }
  const text = await res.text();
  let json: unknown = null;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const msg =
      json && typeof json === 'object' && typeof (json as WithMessage).message === 'string'
        ? (json as WithMessage).message
        : text.trim() || res.statusText;
    throw new ApiError(`${res.status} ${msg}`, res.status);
  }
  return (json ?? { message: '' }) as T;
}

export const api = {
  topics: () => request<TopicsResponse>('GET', ['topics']),
  inactiveTopics: () => request<InactiveTopicsResponse>('GET', ['topics'], { query: { inactive: 'true' } }),
  topic: (topic: string) => request<TopicResponse>('GET', ['topics', topic]),
  channel: (topic: string, channel: string) => request<ChannelResponse>('GET', ['topics', topic, channel]),
  nodes: () => request<NodesResponse>('GET', ['nodes']),
  node: (node: string) => request<NodeResponse>('GET', ['nodes', node]),
  counter: () => request<CounterResponse>('GET', ['counter']),

  create: (topic: string, channel: string) =>
    request<WithMessage>('POST', ['topics'], { body: { topic, channel } }),
  topicAction: (topic: string, action: 'pause' | 'unpause' | 'empty') =>
    request<WithMessage>('POST', ['topics', topic], { body: { action } }),
  channelAction: (topic: string, channel: string, action: 'pause' | 'unpause' | 'empty') =>
    request<WithMessage>('POST', ['topics', topic, channel], { body: { action } }),
  deleteTopic: (topic: string) => request<WithMessage>('DELETE', ['topics', topic]),
  deleteChannel: (topic: string, channel: string) => request<WithMessage>('DELETE', ['topics', topic, channel]),
  tombstone: (node: string, topic: string) => request<WithMessage>('DELETE', ['nodes', node], { body: { topic } }),
};
