/**
 * JSON-RPC over HTTP POST (and the portal over GET): loopback by default, body size limit,
 * per-connection rate limit; HTTPS when given certificate and key files.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { RpcCode } from '@ehr/api';
import { EhrError } from '@ehr/core';
import type { Dispatcher } from './dispatcher.ts';
import { rateLimitedResponse, TokenBucket } from './rate-limit.ts';
import { portalHandler } from './static.ts';
import { readTls, type TlsFiles } from './tls.ts';

export interface HttpOptions {
  host: string;
  port: number;
  allowRemote?: boolean;
  maxBodyBytes?: number;
  /** Requests per second per connection (token bucket, burst = 2x). */
  rateLimit?: number;
  /** Whole-request limit; above the longest commit wait a client may ask for (120 s). */
  requestTimeoutMs?: number;
  /** Time allowed for the request headers. */
  headersTimeoutMs?: number;
  /** The portal's built assets, served over GET at `/` (none: GET answers 405 as before). */
  portalDir?: string;
  /** Serve HTTPS with these PEM files. */
  tls?: TlsFiles;
  /** Listen beyond loopback without TLS (behind a TLS-terminating proxy); logged as a warning. */
  plaintextRemote?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Only `application/json` (any parameters, e.g. charset) is a JSON-RPC body. A browser page on
 * another origin may POST text/plain, form data or no type at all without asking first; a JSON
 * type makes it ask (a CORS preflight, which this server never grants), so requiring it keeps
 * such pages from posting to a node on the visitor's loopback.
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  return header.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

export async function serveHttp(
  dispatcher: Dispatcher,
  opts: HttpOptions,
): Promise<{ server: Server; url: string; reloadTls(): void; close(): Promise<void> }> {
  if (!opts.allowRemote && !LOOPBACK.has(opts.host)) {
    throw new EhrError(
      'GATEWAY_NOT_LOOPBACK',
      `refusing to expose the gateway on ${opts.host} without allowRemote`,
      { host: opts.host },
    );
  }
  if (!LOOPBACK.has(opts.host) && !opts.tls && !opts.plaintextRemote) {
    throw new EhrError(
      'GATEWAY_NEEDS_TLS',
      `refusing to serve ${opts.host} without TLS: set gateway.tls (certFile, keyFile), or gateway.plaintextRemote: true behind a TLS-terminating proxy`,
      { host: opts.host },
    );
  }
  const portal = opts.portalDir ? portalHandler(opts.portalDir) : null;
  // Bodies travel as hex: twice the largest document (8 MiB) plus room for the rest.
  const maxBody = opts.maxBodyBytes ?? 24 * 1024 * 1024;
  const rate = opts.rateLimit ?? 2000;
  const buckets = new WeakMap<object, TokenBucket>();
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const reply = (status: number, body: string | null) => {
      if (body === null) {
        res.writeHead(204).end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    };
    // Browsers get the portal; a JSON-RPC client that used GET (it says JSON) gets the 405.
    const jsonClient = (req.headers['content-type'] ?? '').startsWith('application/json');
    if (portal && (req.method === 'GET' || req.method === 'HEAD') && !jsonClient) {
      portal(req, res);
      return;
    }
    if (req.method !== 'POST') {
      reply(
        405,
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: {
            code: RpcCode.INVALID_REQUEST,
            message: 'use HTTP POST with a JSON-RPC 2.0 body',
          },
        }),
      );
      return;
    }
    if (!isJsonContentType(req.headers['content-type'])) {
      const got = req.headers['content-type'];
      reply(
        415,
        JSON.stringify({
          jsonrpc: '2.0',
          id: null,
          error: {
            code: RpcCode.INVALID_REQUEST,
            message: `Invalid Request: send the body with Content-Type: application/json (got ${got === undefined ? 'none' : JSON.stringify(got.slice(0, 100))})`,
            data: { code: 'UNSUPPORTED_MEDIA_TYPE', expected: 'application/json' },
          },
        }),
      );
      req.resume();
      return;
    }
    let bucket = buckets.get(req.socket);
    if (!bucket) {
      bucket = new TokenBucket(rate);
      buckets.set(req.socket, bucket);
    }
    if (!bucket.take()) {
      reply(429, JSON.stringify(rateLimitedResponse(rate, 'requests')));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBody) {
        tooBig = true;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (tooBig) {
        reply(
          413,
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: {
              code: RpcCode.INVALID_REQUEST,
              message: `Invalid Request: body of ${size} bytes exceeds the limit of ${maxBody}`,
              data: { code: 'REQUEST_TOO_LARGE', limit: maxBody },
            },
          }),
        );
        return;
      }
      dispatcher.receive(Buffer.concat(chunks).toString('utf8')).then(
        (out) => reply(200, out),
        (e: Error) =>
          reply(
            500,
            JSON.stringify({
              jsonrpc: '2.0',
              id: null,
              error: { code: RpcCode.INTERNAL_ERROR, message: e.message },
            }),
          ),
      );
    });
  };
  const server: Server = opts.tls
    ? (createHttpsServer(readTls(opts.tls), handle) as HttpsServer as unknown as Server)
    : createServer(handle);
  server.requestTimeout = opts.requestTimeoutMs ?? 130_000;
  // An idle keep-alive connection stays open well past a client's reuse window: a POST (a body
  // of several MiB) written to a socket the server closed just then fails with EPIPE and is not
  // retried. Seen on a loaded machine with the 5 s default.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = opts.headersTimeoutMs ?? 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    server,
    url: `${opts.tls ? 'https' : 'http'}://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${addr.port}/`,
    reloadTls() {
      if (opts.tls) (server as unknown as HttpsServer).setSecureContext(readTls(opts.tls));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
