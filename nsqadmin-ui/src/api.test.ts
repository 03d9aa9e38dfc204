import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, REQUEST_TIMEOUT_MS } from './api';

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

function stubFetch(impl: (url: string, init: RequestInit) => Promise<Response>) {
  const fn = vi.fn(impl);
  vi.stubGlobal('fetch', fn);
  return fn;
}

describe('request', () => {
  it('sends the nsqadmin headers and a JSON body', async () => {
    const fetch = stubFetch(async () => new Response('{"message":""}', { status: 200 }));
    await api.channelAction('orders', 'c#ephemeral', 'pause');
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/topics/orders/c%23ephemeral');
    expect(init.method).toBe('POST');
    expect(init.body).toBe('{"action":"pause"}');
    expect(init.headers).toEqual({
      'X-UserAgent': 'nsqadmin/v1.3.0',
      Accept: 'application/vnd.nsq; version=1.0',
      'Content-Type': 'application/json',
    });
  });

  it('turns an error reply into an ApiError carrying the server message', async () => {
    stubFetch(async () => new Response('{"message":"INVALID_TOPIC"}', { status: 400 }));
    const err = await api.create('bad name', '').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toBe('400 INVALID_TOPIC');
  });

  it('uses the body text when the error is not JSON', async () => {
    stubFetch(async () => new Response('NOT_FOUND', { status: 404 }));
    await expect(api.topics()).rejects.toThrow('404 NOT_FOUND');
  });

  it('accepts an empty 200 body', async () => {
    stubFetch(async () => new Response('', { status: 200 }));
    await expect(api.deleteTopic('t')).resolves.toEqual({ message: '' });
  });

  it('gives up after 20 seconds', async () => {
    vi.useFakeTimers();
    stubFetch(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const pending = api.topics().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(REQUEST_TIMEOUT_MS - 1);
    let settled = false;
    void pending.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const err = await pending;
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe('request timed out after 20s');
  });
});
