/**
 * JSON-RPC 2.0 dispatcher, transport-agnostic: `receive(text)` returns the response text, or
 * null when nothing is owed (notifications). Batches, notifications, id echo and the standard
 * error codes follow the specification; handlers throw EhrError for application errors, which
 * become -32000..-32099 with `data: { code, ...details }`.
 */
import {
  appCode,
  check,
  MAX_JSON_DEPTH,
  METHOD_BY_NAME,
  paramsSchema,
  RpcCode,
  tooDeep,
} from '@ehr/api';
import { isEhrError } from '@ehr/core';

export class InvalidParams extends Error {}

/** Per-transport context: WebSocket calls carry their connection (for subscriptions). */
export interface CallContext {
  ws?: { subscribe(params: Record<string, unknown>): string; unsubscribe(id: string): boolean };
}

export type Handler = (params: unknown, ctx: CallContext) => Promise<unknown>;

type Id = string | number | null;

interface Response {
  jsonrpc: '2.0';
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

const err = (id: Id, code: number, message: string, data?: unknown): Response => ({
  jsonrpc: '2.0',
  id,
  error: { code, message, ...(data === undefined ? {} : { data }) },
});

export class Dispatcher {
  private readonly methods = new Map<string, Handler>();
  readonly maxBatch: number;

  constructor(opts: { maxBatch?: number } = {}) {
    this.maxBatch = opts.maxBatch ?? 100;
  }

  register(method: string, handler: Handler): void {
    this.methods.set(method, handler);
  }

  names(): string[] {
    return [...this.methods.keys()];
  }

  async receive(text: string, ctx: CallContext = {}): Promise<string | null> {
    let parsed: unknown;
    try {
      // JSON.parse builds nested values without recursion (V8 parses iteratively), so a deep
      // body costs memory bounded by its size, not stack; nothing below recurses into it either.
      parsed = JSON.parse(text);
    } catch {
      return JSON.stringify(
        err(null, RpcCode.PARSE_ERROR, 'Parse error: the body is not valid JSON'),
      );
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0)
        return JSON.stringify(err(null, RpcCode.INVALID_REQUEST, 'Invalid Request: empty batch'));
      if (parsed.length > this.maxBatch) {
        return JSON.stringify(
          err(
            null,
            RpcCode.INVALID_REQUEST,
            `Invalid Request: batch of ${parsed.length} exceeds the limit of ${this.maxBatch}`,
            { limit: this.maxBatch },
          ),
        );
      }
      const out = (await Promise.all(parsed.map((r) => this.one(r, ctx)))).filter(
        (r): r is Response => r !== null,
      );
      return out.length > 0 ? JSON.stringify(out) : null;
    }
    const r = await this.one(parsed, ctx);
    return r ? JSON.stringify(r) : null;
  }

  private async one(req: unknown, ctx: CallContext): Promise<Response | null> {
    if (req === null || typeof req !== 'object' || Array.isArray(req)) {
      return err(null, RpcCode.INVALID_REQUEST, 'Invalid Request: expected an object');
    }
    const r = req as Record<string, unknown>;
    const hasId = 'id' in r;
    const id = r['id'];
    const idOk =
      id === null || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
    if (r['jsonrpc'] !== '2.0')
      return err(
        idOk ? ((id as Id) ?? null) : null,
        RpcCode.INVALID_REQUEST,
        'Invalid Request: jsonrpc must be "2.0"',
      );
    if (typeof r['method'] !== 'string')
      return err(
        idOk ? ((id as Id) ?? null) : null,
        RpcCode.INVALID_REQUEST,
        'Invalid Request: method must be a string',
      );
    if (hasId && !idOk)
      return err(
        null,
        RpcCode.INVALID_REQUEST,
        'Invalid Request: id must be a string, a number or null',
      );
    if ('params' in r && (r['params'] === null || typeof r['params'] !== 'object')) {
      return err(
        hasId ? (id as Id) : null,
        RpcCode.INVALID_REQUEST,
        'Invalid Request: params must be an object or an array',
      );
    }
    const handler = this.methods.get(r['method']);
    const respond = (x: Response) => (hasId ? x : null);
    if (!handler)
      return respond(
        err(id as Id, RpcCode.METHOD_NOT_FOUND, `Method not found: ${r['method']}`, {
          available: this.names(),
        }),
      );
    try {
      // Params are checked against the published schema before any handler runs.
      const spec = METHOD_BY_NAME.get(r['method']);
      const params = r['params'] ?? {};
      // Checked without recursion before anything else walks params (the schema check, the
      // preview in its message, the read signature, handlers).
      const deep = tooDeep(params, MAX_JSON_DEPTH, 'params');
      if (deep) throw new InvalidParams(`${deep}: nested more than ${MAX_JSON_DEPTH} levels deep`);
      if (spec) {
        if (Array.isArray(params) && (params.length > 0 || Object.keys(spec.params).length > 0))
          throw new InvalidParams('params: this method takes named params (an object)');
        const problem = check(paramsSchema(spec), Array.isArray(params) ? {} : params, 'params');
        if (problem) throw new InvalidParams(problem);
        if (spec.wsOnly && !ctx.ws)
          return respond(
            err(id as Id, appCode('WS_ONLY'), `${spec.name} works over WebSocket only`, {
              code: 'WS_ONLY',
            }),
          );
      }
      const result = await handler(Array.isArray(params) ? {} : params, ctx);
      return respond({ jsonrpc: '2.0', id: id as Id, result: result ?? null });
    } catch (e) {
      if (e instanceof InvalidParams)
        return respond(
          err(id as Id, RpcCode.INVALID_PARAMS, `Invalid params: ${e.message}`, {
            code: 'INVALID_PARAMS',
            reason: e.message,
          }),
        );
      if (isEhrError(e))
        return respond(err(id as Id, appCode(e.code), e.message, { code: e.code, ...e.data }));
      return respond(
        err(id as Id, RpcCode.INTERNAL_ERROR, 'Internal error', { message: (e as Error).message }),
      );
    }
  }
}
