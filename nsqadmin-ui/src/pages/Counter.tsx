import { useEffect, useRef, useState } from 'react';
import { api, type CounterResponse } from '../api';
import { Banner, MessageBanner } from '../components/Banner';
import { GraphiteCounter } from '../components/Graphite';
import { Sparkline } from '../components/Sparkline';
import { store, usePoll, useRefreshMs } from '../hooks';
import { commafy, formatRate } from '../lib/format';

const COUNTER_KEY = 'counter:total';

/** Sum of every channel's message_count: each message counts once per channel that processed it. */
export function totalProcessed(resp: CounterResponse): number {
  let sum = 0;
  for (const entry of Object.values(resp.stats ?? {})) sum += entry.message_count ?? 0;
  return sum;
}

/** Eases the displayed number towards `target` over `ms` milliseconds. */
function useAnimatedNumber(target: number | null, ms: number): number | null {
  const [shown, setShown] = useState<number | null>(target);
  const shownRef = useRef<number | null>(target);
  useEffect(() => {
    if (target === null) return;
    const from = shownRef.current;
    if (from === null || from === target || ms <= 0) {
      shownRef.current = target;
      setShown(target);
      return;
    }
    const start = performance.now();
    let frame = 0;
    const step = (now: number) => {
      const k = Math.min(1, (now - start) / ms);
      const eased = 1 - Math.pow(1 - k, 3);
      const v = k >= 1 ? target : Math.round(from + (target - from) * eased);
      shownRef.current = v;
      setShown(v);
      if (k < 1) frame = requestAnimationFrame(step);
    };
    frame = requestAnimationFrame(step);
    return () => cancelAnimationFrame(frame);
  }, [target, ms]);
  return shown;
}

export function CounterPage() {
  const userMs = useRefreshMs();
  const every = userMs === 0 ? 0 : Math.min(userMs, 2000);
  const poll = usePoll(
    'counter',
    async () => {
      const resp = await api.counter();
      const total = totalProcessed(resp);
      store.record(COUNTER_KEY, { t: Date.now(), count: total, depth: 0 });
      store.notify();
      return { resp, total };
    },
    every,
  );
  const target = poll.data ? poll.data.total : null;
  const shown = useAnimatedNumber(target, Math.min(every || 1000, 1500));
  const series = store.get(COUNTER_KEY);
  const channels = Object.keys(poll.data?.resp.stats ?? {}).length;
  return (
    <section className="counter-page">
      {poll.error && <Banner kind="error">{poll.error}</Banner>}
      <MessageBanner message={poll.data?.resp.message} />
      <div className="counter">
        <div className="counter-value" data-testid="counter-total" data-target={target ?? ''}>
          {shown === null ? '…' : commafy(shown)}
        </div>
        <div className="counter-label">Messages Processed</div>
        <div className="counter-rate">
          <span data-testid="counter-rate">{formatRate(series.rate())}</span> msgs/s, from {channels} channel queue
          {channels === 1 ? '' : 's'} across all nodes
        </div>
        <Sparkline kind="rate" values={series.rates()} width={480} height={80} label="messages processed per second" format={formatRate} />
        <GraphiteCounter />
      </div>
    </section>
  );
}
