// Live rates from successive samples of monotonic counters (message_count),
// kept per series so that they survive page changes.

export interface Sample {
  /** milliseconds since the epoch */
  t: number;
  /** the counter (message_count) */
  count: number;
  /** the gauge (depth) */
  depth: number;
}

export interface Point {
  t: number;
  depth: number;
  /** messages per second since the previous sample; null for the first sample or after a reset */
  rate: number | null;
}

/**
 * Rate between two samples, in units per second. A counter that went down
 * (the node restarted or the topic was re-created) or a non-increasing clock
 * gives null rather than a negative or infinite rate.
 */
export function rateBetween(prev: Sample | undefined, next: Sample): number | null {
  if (!prev) return null;
  const dt = (next.t - prev.t) / 1000;
  if (!(dt > 0)) return null;
  const dc = next.count - prev.count;
  if (dc < 0) return null;
  return dc / dt;
}

/** A bounded history of samples for one series. */
export class Series {
  readonly points: Point[] = [];
  private last: Sample | undefined;

  constructor(readonly capacity: number) {}

  /** Adds a sample; samples closer than minGapMs to the previous one are ignored (several pages may poll the same series). */
  push(sample: Sample, minGapMs = 500): void {
    if (this.last && sample.t - this.last.t < minGapMs) return;
    const rate = rateBetween(this.last, sample);
    this.last = sample;
    this.points.push({ t: sample.t, depth: sample.depth, rate });
    if (this.points.length > this.capacity) this.points.splice(0, this.points.length - this.capacity);
  }

  /** The latest rate, or null when unknown. */
  rate(): number | null {
    const p = this.points[this.points.length - 1];
    return p ? p.rate : null;
  }

  depths(): number[] {
    return this.points.map((p) => p.depth);
  }

  rates(): number[] {
    return this.points.filter((p) => p.rate !== null).map((p) => p.rate as number);
  }
}

/** Series by key ("topic:T", "channel:T:C", "node:N", ...). */
export class SeriesStore {
  private readonly series = new Map<string, Series>();
  private version = 0;
  private readonly listeners = new Set<() => void>();

  constructor(readonly capacity = 60) {}

  get(key: string): Series {
    let s = this.series.get(key);
    if (!s) {
      s = new Series(this.capacity);
      this.series.set(key, s);
    }
    return s;
  }

  record(key: string, sample: Sample): Series {
    const s = this.get(key);
    s.push(sample);
    return s;
  }

  /** Tells subscribers that a batch of samples was recorded. */
  notify(): void {
    this.version++;
    for (const l of this.listeners) l();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  getVersion(): number {
    return this.version;
  }
}

export const topicKey = (topic: string) => `topic:${topic}`;
export const channelKey = (topic: string, channel: string) => `channel:${topic}:${channel}`;
export const topicNodeKey = (topic: string, node: string) => `topic-node:${topic}:${node}`;
export const channelNodeKey = (topic: string, channel: string, node: string) =>
  `channel-node:${topic}:${channel}:${node}`;
