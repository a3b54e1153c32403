/**
 * The ledger's key/value state over the `state` bucket: the StateScanner the rules read through,
 * plus the batch ops that apply a block's write set. Keys under `qx/` are the query indexes
 * derived from the state (@ehr/ledger query-index.ts): they live in their own bucket, apart from
 * the state that store verification replays, and `get`/`scan` route them there, so the lists
 * read state and index through one scanner.
 */
import { compareBytes, decode, EhrError, encode, fromUtf8, utf8, type Value } from '@ehr/core';
import {
  deriveIndexWrites,
  isIndexKey,
  type ScanOpts,
  type StateScanner,
  type WriteSet,
} from '@ehr/ledger';
import { Bucket, key, prefixEnd } from './buckets.ts';
import type { Db, Op } from './db.ts';

/**
 * Estimated heap bytes of one cache entry: the key string, the Map entry, and the value's
 * Uint8Array with its ArrayBuffer (V8 keeps ~100 bytes of objects around each).
 */
const ENTRY_OVERHEAD = 160;
export const entryBytes = (k: string, raw: Uint8Array | null): number =>
  ENTRY_OVERHEAD + k.length + (raw ? raw.byteLength : 0);

export const stateKey = (k: string): Uint8Array => key(Bucket.state, utf8(k));
export const indexKey = (k: string): Uint8Array => key(Bucket.queryIndex, utf8(k));
/** The stored key of a state or index key. */
const storedKey = (k: string): Uint8Array => (isIndexKey(k) ? indexKey(k) : stateKey(k));
const keyOf = (stored: Uint8Array): string => fromUtf8(stored.subarray(1));
/** The smallest key after `k` (LevelDB ranges are inclusive at the start). */
const justAfter = (k: Uint8Array): Uint8Array => {
  const out = new Uint8Array(k.length + 1);
  out.set(k);
  return out;
};

export class StateRepo implements StateScanner {
  private readonly db: Db;
  /**
   * Encoded values (null = absent) of recently read or written keys. Every write to the state
   * bucket goes through `committing`, so the cache never disagrees with the store; values are
   * kept encoded because callers may mutate what `get` returns. Bounded in bytes (estimated:
   * key, value and the per-entry overhead of the Map and the Uint8Array); the oldest insertion
   * is dropped first.
   */
  private readonly cache = new Map<string, Uint8Array | null>();
  private readonly cacheMaxBytes: number;
  private bytes = 0;
  /** Bumped around every commit; a read that overlapped one is not cached. */
  private epoch = 0;
  private writing = false;

  /** `cacheBytes`: the cache's bound (0: no cache). */
  constructor(db: Db, cacheBytes = 32 * 1024 * 1024) {
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0)
      throw new EhrError(
        'STORE_CACHE_SIZE',
        `the state cache size must be a whole number of bytes from 0, got ${cacheBytes}`,
        { cacheBytes },
      );
    this.db = db;
    this.cacheMaxBytes = cacheBytes;
  }

  /** Estimated bytes the cache holds now (never above its bound). */
  get cacheBytes(): number {
    return this.bytes;
  }

  get cacheEntries(): number {
    return this.cache.size;
  }

  async get(k: string): Promise<Value | undefined> {
    if (isIndexKey(k)) {
      const v = this.db.getSync(indexKey(k));
      return v === undefined ? undefined : decode(v);
    }
    let raw = this.cache.get(k);
    if (raw === undefined) {
      const epoch = this.epoch;
      raw = (await this.db.get(stateKey(k))) ?? null;
      if (epoch === this.epoch && !this.writing) this.remember(k, raw);
    }
    return raw === null ? undefined : decode(raw);
  }

  private forget(k: string): void {
    const old = this.cache.get(k);
    if (old === undefined) return;
    this.cache.delete(k);
    this.bytes -= entryBytes(k, old);
  }

  private remember(k: string, raw: Uint8Array | null): void {
    this.forget(k);
    const size = entryBytes(k, raw);
    if (size > this.cacheMaxBytes) return;
    // Drop the oldest insertions: cheap, and hot keys are re-read and re-inserted.
    while (this.bytes + size > this.cacheMaxBytes) {
      const first = this.cache.keys().next();
      if (first.done) break;
      this.forget(first.value);
    }
    this.cache.set(k, raw);
    this.bytes += size;
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
        if (isIndexKey(k)) continue;
        this.remember(k, op.type === 'put' ? op.value : null);
      }
      return out;
    } catch (err) {
      // The batch may or may not have reached the disk: forget what it touched.
      for (const op of ops) this.forget(keyOf(op.key));
      throw err;
    } finally {
      this.epoch++;
      this.writing = false;
    }
  }

  async *scan(prefix: string, opts: ScanOpts = {}): AsyncIterable<[string, Value]> {
    const p = storedKey(prefix);
    const range: { gte?: Uint8Array; lt?: Uint8Array; limit?: number; reverse?: boolean } = {};
    if (opts.limit !== undefined) range.limit = Math.max(0, opts.limit);
    // Clamped to the prefix: a range never leaves it, whatever `after` and `before` say.
    if (opts.after !== undefined) {
      const from = justAfter(storedKey(opts.after));
      if (compareBytes(from, p) > 0) range.gte = from;
    }
    if (opts.before !== undefined) {
      const to = storedKey(opts.before);
      if (compareBytes(to, prefixEnd(p)) < 0) range.lt = to;
    }
    if (opts.reverse) range.reverse = true;
    if (range.limit === 0) return;
    for await (const [k, v] of this.db.range(p, range)) yield [keyOf(k), decode(v)];
  }

  /** Ops for a write set: state keys into the state bucket, `qx/` keys into the index bucket. */
  static ops(writes: WriteSet): Op[] {
    return writes.map(([k, v]) =>
      v === null
        ? { type: 'del', key: storedKey(k) }
        : { type: 'put', key: storedKey(k), value: encode(v) },
    );
  }

  /**
   * The index writes that go with a block's state writes, read against the store as it is before
   * them (call before the batch that applies them).
   */
  indexWrites(writes: WriteSet): WriteSet {
    const read = (bucketKey: Uint8Array): Value | undefined => {
      const v = this.db.getSync(bucketKey);
      return v === undefined ? undefined : decode(v);
    };
    return deriveIndexWrites(
      writes,
      (k) => read(stateKey(k)),
      (k) => read(indexKey(k)),
    );
  }
}
