/**
 * The ledger's key/value state over the `state` bucket: the StateScanner the rules read through,
 * plus the batch ops that apply a block's write set.
 */
import { decode, encode, fromUtf8, utf8, type Value } from '@ehr/core';
import type { StateScanner, WriteSet } from '@ehr/ledger';
import { Bucket, key } from './buckets.ts';
import type { Db, Op } from './db.ts';

export const stateKey = (k: string): Uint8Array => key(Bucket.state, utf8(k));

export class StateRepo implements StateScanner {
  private readonly db: Db;
  constructor(db: Db) {
    this.db = db;
  }

  async get(k: string): Promise<Value | undefined> {
    const v = await this.db.get(stateKey(k));
    return v === undefined ? undefined : decode(v);
  }

  async *scan(prefix: string, opts: { limit?: number } = {}): AsyncIterable<[string, Value]> {
    const p = stateKey(prefix);
    const limit = opts.limit === undefined ? {} : { limit: opts.limit };
    for await (const [k, v] of this.db.range(p, limit)) {
      yield [fromUtf8(k.subarray(1)), decode(v)];
    }
  }

  static ops(writes: WriteSet): Op[] {
    return writes.map(([k, v]) =>
      v === null
        ? { type: 'del', key: stateKey(k) }
        : { type: 'put', key: stateKey(k), value: encode(v) },
    );
  }
}
