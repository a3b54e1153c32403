/**
 * One limiter for both transports: a burst past the bucket over one HTTP keep-alive connection
 * and over one WebSocket is refused with RATE_LIMITED's code, and the bucket refills.
 */
import { Agent, request } from 'node:http';
import { APP_CODES } from '@ehr/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Dispatcher } from '../src/dispatcher.ts';
import { serveHttp } from '../src/http.ts';
import { TokenBucket } from '../src/rate-limit.ts';
import { attachWebSocket, type EventSource } from '../src/ws.ts';

// Per second; burst 4. Low, so a slow machine cannot refill the bucket during the burst.
const RATE = 2;
const none: EventSource = {
  onBlock: () => () => {},
  onTxStatus: () => () => {},
  txStatus: async () => undefined,
};
let http: Awaited<ReturnType<typeof serveHttp>>;
let ws: ReturnType<typeof attachWebSocket>;

beforeAll(async () => {
  const d = new Dispatcher();
  d.register('status', async () => 'up');
  http = await serveHttp(d, { host: '127.0.0.1', port: 0, rateLimit: RATE });
  ws = attachWebSocket(http.server, d, none, { maxMessageBytes: 1 << 20, rateLimit: RATE });
});

afterAll(async () => {
  await ws.close();
  await http.close();
});

const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'status' });

describe('rate limit', () => {
  it('the bucket holds a burst of twice the rate and refills at the rate', () => {
    const b = new TokenBucket(5, 0);
    expect(Array.from({ length: 11 }, () => b.take(0))).toEqual([...Array(10).fill(true), false]);
    expect(b.take(100)).toBe(false); // 0.5 token
    expect(b.take(200)).toBe(true); // 1 token
    expect(b.take(200)).toBe(false);
    // A clock that goes back adds nothing.
    expect(b.take(0)).toBe(false);
  });

  it('HTTP: one keep-alive connection past its burst gets 429 with RATE_LIMITED', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const post = () =>
      new Promise<{
        status: number;
        json: { result?: unknown; error?: { code: number; message: string; data: unknown } };
      }>((resolve, reject) => {
        const req = request(
          http.url,
          { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
          (res) => {
            let text = '';
            res.on('data', (c) => {
              text += c;
            });
            res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      const answers = [];
      for (let i = 0; i < 14; i++) answers.push(await post());
      const refused = answers.filter((a) => a.status === 429);
      expect(answers.slice(0, 4).every((a) => a.status === 200 && a.json.result === 'up')).toBe(
        true,
      );
      expect(refused.length).toBeGreaterThanOrEqual(3);
      expect(refused[0]!.json.error).toEqual({
        code: APP_CODES.RATE_LIMITED,
        message: `rate limit: at most ${RATE} requests per second per connection`,
        data: { code: 'RATE_LIMITED' },
      });
      expect(APP_CODES.RATE_LIMITED).toBe(-32041);
      await new Promise((r) => setTimeout(r, 600)); // a token back
      expect((await post()).status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('WebSocket: one connection past its burst gets the same error', async () => {
    const socket = new WebSocket(http.url.replace(/^http/, 'ws'));
    const got: { result?: unknown; error?: { code: number; message: string } }[] = [];
    socket.on('message', (m) => got.push(JSON.parse(String(m))));
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    try {
      for (let i = 0; i < 14; i++) socket.send(body);
      const end = Date.now() + 5000;
      while (got.length < 14 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(got).toHaveLength(14);
      const refused = got.filter((g) => g.error);
      expect(got.filter((g) => g.result === 'up').length).toBeGreaterThanOrEqual(4);
      expect(refused.length).toBeGreaterThanOrEqual(3);
      expect(refused[0]!.error).toMatchObject({
        code: APP_CODES.RATE_LIMITED,
        message: `rate limit: at most ${RATE} messages per second per connection`,
      });
    } finally {
      socket.close();
    }
  });
});
