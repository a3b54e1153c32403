/**
 * The gateway, wired: one dispatcher with every method of the catalogue, served over HTTP POST
 * and WebSocket on one port (loopback unless allowRemote).
 */
import { METHODS, openRpcDocument } from '@ehr/api';
import { EhrError } from '@ehr/core';
import { Dispatcher } from './dispatcher.ts';
import { type HttpOptions, serveHttp } from './http.ts';
import { type NodeService, registerNodeMethods } from './node-methods.ts';
import { type QueryService, registerQueryMethods } from './query-methods.ts';
import { ReadGuard } from './read-guard.ts';
import { attachWebSocket, type EventSource, registerSubscriptionMethods } from './ws.ts';

export interface GatewayNode {
  chainId: string;
  /** This node's id (hex): signed reads must name it. */
  nodeId: string;
  node: NodeService;
  query: QueryService;
  events: EventSource;
  /** Told the bytes a gateway cache holds (cache `read_nonces`: ehr_cache_bytes{cache}). */
  cacheBytes?: (cache: string, bytes: number) => void;
}

export interface Gateway {
  url: string;
  wsUrl: string;
  dispatcher: Dispatcher;
  /** Re-reads the TLS certificate and key files (SIGHUP); throws, keeping the old ones, if bad. */
  reloadTls(): void;
  close(): Promise<void>;
}

/** 1.1.0: tx_submit takes bodies in base64 (`bodies`) beside hex (`payloads`). */
export const API_VERSION = '1.1.0';

export function buildDispatcher(
  g: GatewayNode,
  guard = new ReadGuard(g.chainId, g.nodeId),
): Dispatcher {
  const d = new Dispatcher();
  registerNodeMethods(d, g.node);
  registerQueryMethods(d, g.query, guard);
  registerSubscriptionMethods(d);
  d.register('rpc.discover', async () => openRpcDocument(API_VERSION));
  // Every method the catalogue publishes must be served, and nothing unpublished.
  const served = new Set(d.names());
  const missing = METHODS.filter((m) => !served.has(m.name)).map((m) => m.name);
  const extra = [...served].filter((n) => !METHODS.some((m) => m.name === n));
  if (missing.length > 0 || extra.length > 0) {
    throw new EhrError(
      'GATEWAY_INCOMPLETE',
      `catalogue and handlers differ: missing ${missing.join(', ') || '-'}; unpublished ${extra.join(', ') || '-'}`,
    );
  }
  return d;
}

export interface GatewayOptions extends HttpOptions {
  maxWsMessageBytes?: number;
  /** Signed-read nonces remembered against replay at most (gateway.readNonces). */
  readNonces?: number;
}

export async function startGateway(g: GatewayNode, opts: GatewayOptions): Promise<Gateway> {
  const dispatcher = buildDispatcher(
    g,
    new ReadGuard(g.chainId, g.nodeId, {
      ...(opts.readNonces !== undefined ? { maxRemembered: opts.readNonces } : {}),
      onBytes: (bytes) => g.cacheBytes?.('read_nonces', bytes),
    }),
  );
  g.cacheBytes?.('read_nonces', 0);
  const http = await serveHttp(dispatcher, opts);
  const ws = attachWebSocket(http.server, dispatcher, g.events, {
    maxMessageBytes: opts.maxWsMessageBytes ?? opts.maxBodyBytes ?? 24 * 1024 * 1024,
    rateLimit: opts.rateLimit ?? 2000,
  });
  return {
    url: http.url,
    wsUrl: http.url.replace(/^http/, 'ws'),
    dispatcher,
    reloadTls: () => http.reloadTls(),
    async close() {
      await ws.close();
      await http.close();
    },
  };
}
