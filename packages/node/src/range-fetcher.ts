/**
 * Parallel block-range download for catch-up: splits [from, to] into batches, asks several
 * peers at once, retries a failed batch on another peer, and hands batches to the consumer
 * strictly in height order (the consumer verifies and applies; a block is never applied before
 * its parent). Pure scheduling: the transport and the verifier are injected.
 */
import { EhrError } from '@ehr/core';

export interface RangeFetcherOptions {
  from: number;
  to: number;
  batchSize: number;
  /** Batches in flight at once (spread over peers). */
  parallel: number;
  peers: () => string[];
  fetch: (peer: string, from: number, to: number) => Promise<Uint8Array[]>;
  /** Called in height order; throwing marks the batch bad (e.g. verification failed). */
  consume: (from: number, blocks: Uint8Array[]) => Promise<void>;
  onProgress?: (height: number, target: number) => void;
  maxAttempts?: number;
}

export async function fetchRange(opts: RangeFetcherOptions): Promise<number> {
  const maxAttempts = opts.maxAttempts ?? 6;
  let nextToRequest = opts.from;
  let nextToConsume = opts.from;
  const ready = new Map<number, { blocks: Uint8Array[]; peer: string }>();
  const attempts = new Map<number, number>();
  const badPeers = new Set<string>();
  let peerCursor = 0;
  let lastError: unknown;

  const pickPeer = (): string => {
    const all = opts.peers();
    const good = all.filter((p) => !badPeers.has(p));
    const pool = good.length > 0 ? good : all;
    if (pool.length === 0) {
      throw new EhrError('SYNC_NO_PEERS', 'no peers to sync from; check p2p.bootstrap', {});
    }
    return pool[peerCursor++ % pool.length]!;
  };

  const fetchBatch = async (start: number): Promise<void> => {
    const end = Math.min(start + opts.batchSize - 1, opts.to);
    for (;;) {
      const n = (attempts.get(start) ?? 0) + 1;
      attempts.set(start, n);
      const peer = pickPeer();
      try {
        const blocks = await opts.fetch(peer, start, end);
        if (blocks.length !== end - start + 1) {
          throw new EhrError(
            'SYNC_SHORT_BATCH',
            `peer sent ${blocks.length} blocks for ${start}..${end}`,
            {},
          );
        }
        ready.set(start, { blocks, peer });
        return;
      } catch (err) {
        lastError = err;
        badPeers.add(peer);
        if (n >= maxAttempts) {
          throw new EhrError(
            'SYNC_FAILED',
            `could not fetch blocks ${start}..${end} after ${n} attempts: ${(err as Error).message}`,
            { from: start, to: end },
          );
        }
      }
    }
  };

  const inflight = new Map<number, Promise<void>>();
  // Failures surface when the batch is awaited in order; the no-op catch only stops a later
  // batch's failure from being reported as unhandled while an earlier one is awaited.
  const start = (from: number): void => {
    const p = fetchBatch(from);
    p.catch(() => {});
    inflight.set(from, p);
  };
  while (nextToConsume <= opts.to) {
    while (nextToRequest <= opts.to && inflight.size < opts.parallel) {
      start(nextToRequest);
      nextToRequest += opts.batchSize;
    }
    const head = inflight.get(nextToConsume);
    if (!head) throw lastError ?? new Error('range fetcher lost track of a batch');
    await head;
    inflight.delete(nextToConsume);
    const { blocks, peer } = ready.get(nextToConsume)!;
    ready.delete(nextToConsume);
    try {
      await opts.consume(nextToConsume, blocks);
    } catch (err) {
      // A batch that fails verification is the serving peer's fault: refetch it elsewhere.
      badPeers.add(peer);
      lastError = err;
      if ((attempts.get(nextToConsume) ?? 0) >= maxAttempts) throw err;
      start(nextToConsume);
      continue;
    }
    nextToConsume += blocks.length;
    opts.onProgress?.(nextToConsume - 1, opts.to);
  }
  return nextToConsume - 1;
}
