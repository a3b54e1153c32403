/**
 * Parallel range download for catch-up: splits [from, to] into batches, asks several peers at
 * once, retries a failed batch on another peer, and hands batches to the consumer strictly in
 * order (the consumer verifies and applies; nothing is applied before what precedes it). A peer
 * may answer with a prefix of a batch (it caps replies by size, or has less): the rest is asked
 * for again. Pure scheduling: the transport and the verifier are injected.
 */
import { EhrError } from '@ehr/core';

export interface RangeFetcherOptions<T> {
  from: number;
  to: number;
  batchSize: number;
  /** Batches in flight at once (spread over peers). */
  parallel: number;
  /** Peers to ask for [from, to] (round robin; peers that failed are avoided while others remain). */
  peers: (from: number, to: number) => string[];
  /** Items from..to, or a non-empty prefix of them. */
  fetch: (peer: string, from: number, to: number) => Promise<T[]>;
  /** Called in order; throwing marks the batch bad (e.g. verification failed): it is refetched elsewhere. */
  consume: (from: number, items: T[], peer: string) => Promise<void>;
  onProgress?: (last: number, target: number) => void;
  maxAttempts?: number;
  /** What the items are, for messages (default "blocks"). */
  what?: string;
}

export async function fetchRange<T>(opts: RangeFetcherOptions<T>): Promise<number> {
  const maxAttempts = opts.maxAttempts ?? 6;
  const what = opts.what ?? 'blocks';
  const attempts = new Map<number, number>();
  const badPeers = new Set<string>();
  let peerCursor = 0;
  let lastError: unknown;

  const pickPeer = (from: number, to: number): string => {
    const all = opts.peers(from, to);
    const good = all.filter((p) => !badPeers.has(p));
    const pool = good.length > 0 ? good : all;
    if (pool.length === 0) {
      throw new EhrError('SYNC_NO_PEERS', 'no peers to sync from; check p2p.bootstrap', {});
    }
    return pool[peerCursor++ % pool.length]!;
  };

  const fetchBatch = async (start: number, end: number): Promise<{ items: T[]; peer: string }> => {
    for (;;) {
      const n = (attempts.get(start) ?? 0) + 1;
      attempts.set(start, n);
      const peer = pickPeer(start, end);
      try {
        const items = await opts.fetch(peer, start, end);
        if (items.length === 0 || items.length > end - start + 1) {
          throw new EhrError(
            'SYNC_SHORT_BATCH',
            `peer sent ${items.length} ${what} for ${start}..${end}`,
            {},
          );
        }
        return { items, peer };
      } catch (err) {
        lastError = err;
        badPeers.add(peer);
        if (n >= maxAttempts) {
          throw new EhrError(
            'SYNC_FAILED',
            `could not fetch ${what} ${start}..${end} after ${n} attempts: ${(err as Error).message}`,
            { from: start, to: end },
          );
        }
      }
    }
  };

  const inflight = new Map<number, { end: number; done: Promise<{ items: T[]; peer: string }> }>();
  // Failures surface when the batch is awaited in order; the no-op catch only stops a later
  // batch's failure from being reported as unhandled while an earlier one is awaited.
  const start = (from: number, end: number): void => {
    const done = fetchBatch(from, end);
    done.catch(() => {});
    inflight.set(from, { end, done });
  };
  let nextToRequest = opts.from;
  let next = opts.from;
  while (next <= opts.to) {
    while (nextToRequest <= opts.to && inflight.size < opts.parallel) {
      const end = Math.min(nextToRequest + opts.batchSize - 1, opts.to);
      start(nextToRequest, end);
      nextToRequest = end + 1;
    }
    const head = inflight.get(next);
    if (!head) throw lastError ?? new Error('range fetcher lost track of a batch');
    const { items, peer } = await head.done;
    inflight.delete(next);
    try {
      await opts.consume(next, items, peer);
    } catch (err) {
      // A batch that fails verification is the serving peer's fault: refetch it elsewhere.
      badPeers.add(peer);
      lastError = err;
      if ((attempts.get(next) ?? 0) >= maxAttempts) throw err;
      start(next, head.end);
      continue;
    }
    const after = next + items.length;
    if (after <= head.end) start(after, head.end);
    next = after;
    opts.onProgress?.(next - 1, opts.to);
  }
  return next - 1;
}
