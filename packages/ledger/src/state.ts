/**
 * The state interface the rules read and write through (contract between @ehr/ledger and
 * @ehr/store). Keys are namespaced strings (`hospital/<id>`, `record/<id>`, index keys such as
 * `idx/patient-records/<patient>/<pos>/<record>`; see keys.ts); values are canonical Values.
 * Reads are async because the store reads LevelDB; writes are buffered by the caller and never
 * touch disk here, so the rules stay pure: same state + same block => same writes, on every node.
 */
import { compareBytes, utf8, type Value } from '@ehr/core';
import { deriveIndexWrites, isIndexKey } from './query-index.ts';

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
  scan(prefix: string, opts?: ScanOpts): AsyncIterable<[key: string, value: Value]>;
}

/**
 * A range inside a prefix: `after` starts strictly after that key (a page's cursor), `before`
 * stops strictly before it, `reverse` walks newest-first (descending keys). `limit` bounds it.
 */
export type ScanOpts = { limit?: number; after?: string; before?: string; reverse?: boolean };

/** Keys under `prefix` within `opts`, in scan order (shared by MapState and tests). */
export function selectKeys(all: Iterable<string>, prefix: string, opts: ScanOpts): string[] {
  const keys = [...all]
    .filter(
      (k) =>
        k.startsWith(prefix) &&
        (opts.after === undefined || compareKeys(k, opts.after) > 0) &&
        (opts.before === undefined || compareKeys(k, opts.before) < 0),
    )
    .sort(compareKeys);
  if (opts.reverse) keys.reverse();
  return opts.limit === undefined ? keys : keys.slice(0, Math.max(0, opts.limit));
}

/**
 * Orders keys by their UTF-8 bytes: the order LevelDB iterates in and the write-set order.
 * Without encoding both keys on every comparison (a block's sort did that n log n times): below
 * the surrogates, UTF-16 code unit order is UTF-8 byte order, so the first differing code units
 * decide; where one is a surrogate (a pair, or a lone one that UTF-8 replaces), the bytes do.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if ((x >= 0xd800 && x <= 0xdfff) || (y >= 0xd800 && y <= 0xdfff))
      return compareKeysByBytes(a, b);
    return x - y;
  }
  if (a.length === b.length) return 0;
  // One is a prefix of the other; a lone surrogate at the end of the prefix may pair up.
  return compareKeysByBytes(a, b);
}

/** The reference order (encodes both keys): for tests of compareKeys. */
export function compareKeysByBytes(a: string, b: string): number {
  return compareBytes(utf8(a), utf8(b));
}

/**
 * Committed state held in a Map: the in-memory StateScanner (tests, tools, light clients).
 * `applyWrites` is what a store does with a block's write set, minus the disk: the state, and
 * the query indexes derived from it (query-index.ts, keys under `qx/`, kept in `index`, apart
 * from the state the state hash covers), in one step.
 */
export class MapState implements StateScanner {
  readonly map: Map<string, Value>;
  /** The derived query indexes (`qx/...`): never part of the state hash. */
  readonly index = new Map<string, Value>();

  constructor(entries?: Iterable<[string, Value]>) {
    this.map = new Map(entries);
    if (this.map.size > 0) {
      const all: WriteSet = [...this.map.entries()];
      this.applyIndex(
        deriveIndexWrites(
          all,
          () => undefined,
          (k) => this.index.get(k),
        ),
      );
    }
  }

  async get(key: string): Promise<Value | undefined> {
    return isIndexKey(key) ? this.index.get(key) : this.map.get(key);
  }

  applyWrites(writes: WriteSet): void {
    const derived = deriveIndexWrites(
      writes,
      (k) => this.map.get(k),
      (k) => this.index.get(k),
    );
    for (const [key, value] of writes) {
      if (value === null) this.map.delete(key);
      else this.map.set(key, value);
    }
    this.applyIndex(derived);
  }

  private applyIndex(writes: WriteSet): void {
    for (const [key, value] of writes) {
      if (value === null) this.index.delete(key);
      else this.index.set(key, value);
    }
  }

  async *scan(prefix: string, opts: ScanOpts = {}): AsyncIterable<[string, Value]> {
    const m = isIndexKey(prefix) ? this.index : this.map;
    for (const key of selectKeys(m.keys(), prefix, opts)) yield [key, m.get(key)!];
  }
}
