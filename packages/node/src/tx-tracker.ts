/**
 * What became of each transaction this node has seen: pending, committed (height, index),
 * rejected (code, message) or expired. Submitters in "commit" mode wait here; subscribers are
 * told. Bounded in bytes (estimated per entry: the hash, the status object and its message):
 * the oldest finished entries are forgotten first (the chain keeps the real record); pending
 * ones are bounded by the mempool. Whether a status is final is decided where the chain head is known (Daemon.txStatus).
 */
import { EhrError, type TxStatus } from '@ehr/core';

type Waiter = (s: TxStatus) => void;

/** Estimated heap bytes of one status: Map entry, hash string, the object and its strings. */
export function statusBytes(hash: string, s: TxStatus): number {
  const r = s as { code?: string | null; message?: string | null };
  return 200 + hash.length + (r.code?.length ?? 0) + (r.message?.length ?? 0);
}

export class TxTracker {
  private readonly statuses = new Map<string, TxStatus>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listeners = new Set<(hash: string, s: TxStatus) => void>();
  private readonly maxBytes: number;
  private bytes = 0;

  /** `maxBytes`: the bound of the finished statuses kept (0: none kept once final). */
  constructor(maxBytes = 16 * 1024 * 1024) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 0)
      throw new EhrError(
        'CONFIG_INVALID',
        `the transaction status cache size must be a whole number of bytes from 0, got ${maxBytes}`,
        { maxBytes },
      );
    this.maxBytes = maxBytes;
  }

  /** Estimated bytes the statuses hold now. */
  get byteSize(): number {
    return this.bytes;
  }

  get size(): number {
    return this.statuses.size;
  }

  get(hash: string): TxStatus | undefined {
    return this.statuses.get(hash);
  }

  set(hash: string, s: TxStatus): void {
    const old = this.statuses.get(hash);
    if (old) {
      this.statuses.delete(hash);
      this.bytes -= statusBytes(hash, old);
    }
    this.statuses.set(hash, s);
    this.bytes += statusBytes(hash, s);
    if (this.bytes > this.maxBytes) {
      for (const [h, o] of this.statuses) {
        if (this.bytes <= this.maxBytes) break;
        if (o.status === 'pending') continue;
        this.statuses.delete(h);
        this.bytes -= statusBytes(h, o);
      }
    }
    for (const l of this.listeners) l(hash, s);
    if (s.status === 'pending') return;
    const ws = this.waiters.get(hash);
    if (ws) {
      this.waiters.delete(hash);
      for (const w of ws) w(s);
    }
  }

  onChange(listener: (hash: string, s: TxStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Resolves when the transaction is committed, rejected or expired; throws TX_TIMEOUT after
   * `ms`, saying until when it can still commit (`expires`).
   */
  wait(hash: string, ms: number, expires?: number): Promise<TxStatus> {
    const now = this.statuses.get(hash);
    if (now && now.status !== 'pending') return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const ws = this.waiters.get(hash) ?? new Set<Waiter>();
      const done: Waiter = (s) => {
        clearTimeout(timer);
        resolve(s);
      };
      const timer = setTimeout(() => {
        ws.delete(done);
        const until =
          expires === undefined
            ? 'it may still commit'
            : `it is still pending and can commit until ${new Date(expires).toISOString()} (its deadline), never after`;
        reject(
          new EhrError(
            'TX_TIMEOUT',
            `transaction ${hash} was not committed within ${ms} ms; ${until}: query its status`,
            { hash, timeoutMs: ms, ...(expires === undefined ? {} : { canCommitUntil: expires }) },
          ),
        );
      }, ms);
      ws.add(done);
      this.waiters.set(hash, ws);
    });
  }
}
