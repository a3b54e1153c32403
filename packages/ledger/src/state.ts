/**
 * The state interface the rules read and write through (contract between @ehr/ledger and
 * @ehr/store). Keys are namespaced strings (`hospital/<id>`, `record/<id>`, index keys such as
 * `idx/patient-records/<patient>/<pos>/<record>`; see keys.ts); values are canonical Values.
 * Reads are async because the store reads LevelDB; writes are buffered by the caller and never
 * touch disk here, so the rules stay pure: same state + same block => same writes, on every node.
 */
import { compareBytes, utf8, type Value } from '@ehr/core';

export interface StateReader {
  get(key: string): Promise<Value | undefined>;
}

export interface State extends StateReader {
  set(key: string, value: Value): void;
  delete(key: string): void;
}

/** One write: a value, or null for a deletion. Write sets are ordered by key. */
export type WriteSet = [key: string, value: Value | null][];

/**
 * A reader that can also list keys under a prefix in ascending key order (UTF-8 byte order).
 * Listings (records by patient, consents by patient, audit by patient...) are prefix scans over
 * the index keys in keys.ts. The store implements it over LevelDB; MapState over a Map.
 */
export interface StateScanner extends StateReader {
  scan(prefix: string, opts?: { limit?: number }): AsyncIterable<[key: string, value: Value]>;
}

/** Orders keys by their UTF-8 bytes: the order LevelDB iterates in and the write-set order. */
export function compareKeys(a: string, b: string): number {
  return compareBytes(utf8(a), utf8(b));
}

/**
 * Committed state held in a Map: the in-memory StateScanner (tests, tools, light clients).
 * `applyWrites` is what a store does with a block's write set, minus the disk.
 */
export class MapState implements StateScanner {
  readonly map: Map<string, Value>;

  constructor(entries?: Iterable<[string, Value]>) {
    this.map = new Map(entries);
  }

  async get(key: string): Promise<Value | undefined> {
    return this.map.get(key);
  }

  applyWrites(writes: WriteSet): void {
    for (const [key, value] of writes) {
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
  }

  async *scan(prefix: string, opts: { limit?: number } = {}): AsyncIterable<[string, Value]> {
    const keys = [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort(compareKeys);
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    for (let i = 0; i < keys.length && i < limit; i++) {
      const key = keys[i]!;
      yield [key, this.map.get(key)!];
    }
  }
}
