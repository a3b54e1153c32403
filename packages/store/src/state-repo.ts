/**
 * The ledger's key/value state over the `state` bucket: the StateScanner the rules read through,
 * plus the batch ops that apply a block's write set.
 */
import { decode, encode, fromUtf8, utf8, type Value } from '@ehr/core';
import type { StateScanner, WriteSet } from '@ehr/ledger';
import { Bucket, key } from './buckets.ts';
import type { Db, Op } from './db.ts';

export const stateKey = (k: string): Uint8Array => key(Bucket.state, utf8(k));
const keyOf = (stored: Uint8Array): string => fromUtf8(stored.subarray(1));

export class StateRepo implements StateScanner {
  private readonly db: Db;
  /**
   * Encoded values (null = absent) of recently read or written keys. Every write to the state
   * bucket goes through `committing`, so the cache never disagrees with the store; values are
   * kept encoded because callers may mutate what `get` returns.
   */
  private readonly cache = new Map<string, Uint8Array | null>();
  private readonly cacheMax: number;
  /** Bumped around every commit; a read that overlapped one is not cached. */
  private epoch = 0;
  private writing = false;

  constructor(db: Db, cacheMax = 100_000) {
    this.db = db;
    this.cacheMax = cacheMax;
  }

  async get(k: string): Promise<Value | undefined> {
    let raw = this.cache.get(k);
    if (raw === undefined) {
      const epoch = this.epoch;
      raw = (await this.db.get(stateKey(k))) ?? null;
      if (epoch === this.epoch && !this.writing) this.remember(k, raw);
    }
    return raw === null ? undefined : decode(raw);
  }

  private remember(k: string, raw: Uint8Array | null): void {
    if (this.cache.size >= this.cacheMax) {
      // Drop the oldest insertion: cheap, and hot keys are re-read and re-inserted.
      const first = this.cache.keys().next();
      if (!first.done) this.cache.delete(first.value);
    }
    this.cache.set(k, raw);
  }

  /**
   * Wraps a batch that includes `ops` (from StateRepo.ops): reads during it bypass the cache, and
   * once it is durable the cache holds the values those ops wrote, already encoded.
   */
  async committing<T>(ops: Op[], batch: () => Promise<T>): Promise<T> {
    this.writing = true;
    this.epoch++;
    try {
      const out = await batch();
      for (const op of ops) {
        const k = keyOf(op.key);
        this.cache.delete(k);
        this.remember(k, op.type === 'put' ? op.value : null);
      }
      return out;
    } catch (err) {
      // The batch may or may not have reached the disk: forget what it touched.
      for (const op of ops) this.cache.delete(keyOf(op.key));
      throw err;
    } finally {
      this.epoch++;
      this.writing = false;
    }
  }

  async *scan(prefix: string, opts: { limit?: number } = {}): AsyncIterable<[string, Value]> {
    const p = stateKey(prefix);
    const limit = opts.limit === undefined ? {} : { limit: opts.limit };
    for await (const [k, v] of this.db.range(p, limit)) yield [keyOf(k), decode(v)];
  }

  static ops(writes: WriteSet): Op[] {
    return writes.map(([k, v]) =>
      v === null
        ? { type: 'del', key: stateKey(k) }
        : { type: 'put', key: stateKey(k), value: encode(v) },
    );
  }
}
