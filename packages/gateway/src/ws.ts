/**
 * JSON-RPC over WebSocket on the gateway's HTTP server, with subscriptions: new blocks, one
 * transaction's status, the committed transactions of one account. Every frame is one JSON-RPC
 * message or batch, dispatched exactly as over HTTP; notifications are
 * `{ jsonrpc, method: "subscription", params: { subscription, result } }`.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { RpcCode } from '@ehr/api';
import { EhrError } from '@ehr/core';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Dispatcher } from './dispatcher.ts';
import { rateLimitedResponse, TokenBucket } from './rate-limit.ts';

export interface BlockNotice {
  height: number;
  hash: string;
  time: number;
  txs: {
    hash: string;
    author: string | null;
    kind: string | null;
    ok: boolean;
    code: string | null;
  }[];
}

/** What subscriptions follow; the node provides it. */
export interface EventSource {
  onBlock(fn: (b: BlockNotice) => void): () => void;
  /** Fires on every status change of any transaction. */
  onTxStatus(fn: (hash: string, status: { status: string }) => void): () => void;
  txStatus(hash: string): Promise<{ status: string } | undefined>;
}

/** No Origin (not a browser), or the gateway's own (a page it served itself). */
export function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || origin === '') return true;
  try {
    const u = new URL(origin);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.host === host;
  } catch {
    return false;
  }
}

export interface WsOptions {
  maxMessageBytes: number;
  /** Messages per second per connection (token bucket, burst = 2x). */
  rateLimit: number;
  maxSubscriptions?: number;
}

export function attachWebSocket(
  server: Server,
  dispatcher: Dispatcher,
  events: EventSource,
  opts: WsOptions,
): { close(): Promise<void> } {
  const wss = new WebSocketServer({
    server,
    maxPayload: opts.maxMessageBytes,
    // Browsers open WebSockets to any origin without asking (no CORS preflight), so a page on
    // another site could talk to a node on the visitor's loopback. A browser always says where
    // the page came from: refuse any origin but the gateway's own. Programs send no Origin.
    verifyClient: (info: { origin?: string; req: IncomingMessage }, done) => {
      const ok = sameOrigin(info.origin, info.req.headers.host);
      if (ok) done(true);
      else done(false, 403, 'WebSocket from another origin refused');
    },
  });
  const maxSubs = opts.maxSubscriptions ?? 64;
  wss.on('connection', (socket: WebSocket) => {
    const subs = new Map<string, () => void>();
    const bucket = new TokenBucket(opts.rateLimit);
    const send = (v: unknown) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(v));
    };
    const notify = (subscription: string, result: unknown) =>
      send({ jsonrpc: '2.0', method: 'subscription', params: { subscription, result } });
    const ctx = {
      ws: {
        subscribe(p: Record<string, unknown>): string {
          if (subs.size >= maxSubs) {
            throw new EhrError('RATE_LIMITED', `at most ${maxSubs} subscriptions per connection`, {
              limit: maxSubs,
            });
          }
          const id = randomBytes(8).toString('hex');
          const topic = p['topic'];
          if (topic === 'blocks') {
            subs.set(
              id,
              events.onBlock((b) =>
                notify(id, { height: b.height, hash: b.hash, time: b.time, txs: b.txs.length }),
              ),
            );
          } else if (topic === 'tx') {
            const hash = p['hash'];
            if (typeof hash !== 'string')
              throw new EhrError('MALFORMED', 'topic "tx" needs params.hash', { field: 'hash' });
            subs.set(
              id,
              events.onTxStatus((h, st) => {
                if (h === hash) notify(id, { hash, status: st });
              }),
            );
            // Already decided? Say so at once, so a late subscriber does not wait forever.
            void events.txStatus(hash).then((st) => {
              if (st && subs.has(id)) notify(id, { hash, status: st });
            });
          } else {
            const key = p['key'];
            if (typeof key !== 'string')
              throw new EhrError('MALFORMED', 'topic "account" needs params.key', { field: 'key' });
            subs.set(
              id,
              events.onBlock((b) => {
                for (const t of b.txs) {
                  if (t.author === key) notify(id, { height: b.height, time: b.time, ...t });
                }
              }),
            );
          }
          return id;
        },
        unsubscribe(id: string): boolean {
          const off = subs.get(id);
          if (!off) return false;
          off();
          subs.delete(id);
          return true;
        },
      },
    };
    socket.on('message', (data, isBinary) => {
      if (!bucket.take()) {
        send(rateLimitedResponse(opts.rateLimit, 'messages'));
        return;
      }
      if (isBinary) {
        send({
          jsonrpc: '2.0',
          id: null,
          error: { code: RpcCode.PARSE_ERROR, message: 'Parse error: send JSON text frames' },
        });
        return;
      }
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Buffer.concat(data as Buffer[]).toString('utf8');
      dispatcher.receive(text, ctx).then(
        (out) => {
          if (out !== null && socket.readyState === socket.OPEN) socket.send(out);
        },
        () => {},
      );
    });
    socket.on('close', () => {
      for (const off of subs.values()) off();
      subs.clear();
    });
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** Registers subscribe/unsubscribe: they act on the calling WebSocket connection. */
export function registerSubscriptionMethods(d: Dispatcher): void {
  d.register('subscribe', async (params, ctx) =>
    ctx.ws!.subscribe(params as Record<string, unknown>),
  );
  d.register('unsubscribe', async (params, ctx) =>
    ctx.ws!.unsubscribe((params as Record<string, unknown>)['subscription'] as string),
  );
}
