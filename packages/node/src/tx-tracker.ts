/**
 * What became of each transaction this node has seen: pending, committed (height, index),
 * rejected (code, message) or expired. Submitters in "commit" mode wait here; subscribers are
 * told. Bounded: the oldest finished entries are forgotten first (the chain keeps the real
 * record). Whether a status is final is decided where the chain head is known (Daemon.txStatus).
 */
import { EhrError, type TxStatus } from '@ehr/core';

type Waiter = (s: TxStatus) => void;

export class TxTracker {
  private readonly statuses = new Map<string, TxStatus>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly listeners = new Set<(hash: string, s: TxStatus) => void>();
  private readonly capacity: number;

  constructor(capacity = 200_000) {
    this.capacity = capacity;
  }

  get(hash: string): TxStatus | undefined {
    return this.statuses.get(hash);
  }

  set(hash: string, s: TxStatus): void {
    this.statuses.delete(hash);
    this.statuses.set(hash, s);
    if (this.statuses.size > this.capacity) {
      for (const [h, old] of this.statuses) {
        if (this.statuses.size <= this.capacity) break;
        if (old.status !== 'pending') this.statuses.delete(h);
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
