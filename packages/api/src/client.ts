/** A small typed JSON-RPC client over HTTP; signing happens here, on the caller's side. */
import {
  encodeTx,
  type NodeStatus,
  type SignedTx,
  type SubmitResult,
  signTx,
  type TxBody,
  toBase64,
  toHex,
} from '@ehr/core';
import { RpcError } from './errors.ts';

export class RpcClient {
  readonly url: string;
  private id = 0;
  constructor(url: string) {
    this.url = url;
  }

  async call<T = unknown>(method: string, params?: unknown, timeoutMs = 30_000): Promise<T> {
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: ++this.id,
        method,
        ...(params === undefined ? {} : { params }),
      }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json()) as {
      result?: T;
      error?: { code: number; message: string; data?: unknown };
    };
    if (body.error) throw new RpcError(body.error.code, body.error.message, body.error.data);
    return body.result as T;
  }

  status() {
    return this.call<NodeStatus>('status');
  }

  /**
   * Signs locally and submits; the secret key never leaves this process. Without `expires`
   * the transaction gets the default deadline (two minutes from now).
   */
  async submit(
    body: Omit<TxBody, 'author'>,
    secretKey: Uint8Array,
    opts: { mode?: 'async' | 'sync' | 'commit'; payloads?: Uint8Array[]; timeoutMs?: number } = {},
  ): Promise<SubmitResult> {
    const tx: SignedTx = signTx(
      { expires: Date.now() + 120_000, ...body, author: new Uint8Array(32) },
      secretKey,
    );
    return this.submitEncoded(encodeTx(tx), opts);
  }

  submitEncoded(
    tx: Uint8Array,
    opts: { mode?: 'async' | 'sync' | 'commit'; payloads?: Uint8Array[]; timeoutMs?: number } = {},
  ): Promise<SubmitResult> {
    return this.call<SubmitResult>(
      'tx_submit',
      {
        tx: toHex(tx),
        // Base64 (a gateway before 1.1 knows only hex `payloads`; a transaction without
        // bodies still reaches it).
        ...(opts.payloads?.length ? { bodies: opts.payloads.map(toBase64) } : {}),
        mode: opts.mode ?? 'commit',
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      },
      (opts.timeoutMs ?? 10_000) + 5_000,
    );
  }
}

// Transaction statuses and sync progress are declared once in @ehr/core (tx-status.ts), for
// the node that tracks them and the clients that read them; re-exported for clients.
export type { NodeStatus, SubmitResult, SyncStatus, TxStatusView } from '@ehr/core';
