/**
 * The consensus log and hard state. Appending entries from index i replaces whatever the log held
 * from i on (Raft's conflict rule), in the same synced batch as the hard state, so a restarted
 * node rebuilds exactly what it had promised.
 */

import type { Entry, HardState } from '@ehr/consensus';
import {
  decode,
  encode,
  expectBytes,
  expectInteger,
  expectKeys,
  expectMap,
  expectString,
} from '@ehr/core';
import { Bucket, key, readU64, u64 } from './buckets.ts';
import type { Db, Op } from './db.ts';
import type { RaftMarker, RaftPosition } from './raft-marker.ts';

const HARD_STATE = key(Bucket.raftState, new Uint8Array([1]));
const SNAPSHOT = key(Bucket.raftState, new Uint8Array([2]));
/** The position after the last save (sequence, last index and term, term, vote): raft-marker.ts. */
const POSITION = key(Bucket.raftState, new Uint8Array([3]));
const logKey = (index: number) => key(Bucket.raftLog, u64(index));

export interface RaftSnapshotMeta {
  index: number;
  term: number;
  data: Uint8Array;
}

export class RaftRepo {
  private readonly db: Db;
  private last = 0;
  private first = 1;
  private pos: RaftPosition = { seq: 0, lastIndex: 0, lastTerm: 0, term: 0, vote: null };
  private marker: RaftMarker | undefined;

  constructor(db: Db) {
    this.db = db;
  }

  async load(): Promise<void> {
    const prefix = new Uint8Array([Bucket.raftLog]);
    for await (const [k] of this.db.range(prefix, { reverse: true, limit: 1 }))
      this.last = readU64(k, 1);
    for await (const [k] of this.db.range(prefix, { limit: 1 })) this.first = readU64(k, 1);
    if (this.last === 0) {
      const snap = await this.snapshot();
      this.first = (snap?.index ?? 0) + 1;
      this.last = snap?.index ?? 0;
    }
    const hs = await this.hardState();
    const lastTerm =
      this.last === 0 ? 0 : ((await this.entries(this.last, this.last))[0]?.term ?? 0);
    const stored = await this.db.get(POSITION);
    let seq = 0;
    if (stored) {
      const m = expectMap(decode(stored), 'raftPosition');
      seq = expectInteger(m['seq'], 'raftPosition.seq');
    }
    this.pos = {
      seq,
      lastIndex: this.last,
      lastTerm,
      term: hs?.term ?? 0,
      vote: hs?.vote ?? null,
    };
  }

  /** What LevelDB holds after the last save (sequence 0: no save recorded yet). */
  get position(): RaftPosition {
    return this.pos;
  }

  /** From now on every save is also recorded in `marker` once LevelDB has it on disk. */
  attachMarker(marker: RaftMarker): void {
    this.marker = marker;
  }

  /**
   * Checks that the stored log has no hole between its first and last index (LevelDB skipping a
   * damaged record in the middle of its write-ahead log would leave one).
   */
  async holes(): Promise<number | undefined> {
    let expect = this.first;
    for await (const [k] of this.db.range(new Uint8Array([Bucket.raftLog]), { values: false })) {
      const i = readU64(k, 1);
      if (i !== expect) return expect;
      expect++;
    }
    return expect === this.last + 1 || this.last < this.first ? undefined : expect;
  }

  get lastIndex(): number {
    return this.last;
  }

  get firstIndex(): number {
    return this.first;
  }

  async save(entries: Entry[], hardState: HardState | undefined): Promise<void> {
    const ops: Op[] = [];
    let newLast = this.last;
    if (entries.length > 0) {
      const from = entries[0]!.index;
      for (const e of entries) {
        ops.push({
          type: 'put',
          key: logKey(e.index),
          value: encode({ term: e.term, type: e.type, data: e.data }),
        });
      }
      const end = entries.at(-1)!.index;
      for (let i = end + 1; i <= this.last; i++) ops.push({ type: 'del', key: logKey(i) });
      newLast = end;
      if (from < this.first) this.first = from;
    }
    if (hardState) {
      ops.push({
        type: 'put',
        key: HARD_STATE,
        value: encode({ term: hardState.term, vote: hardState.vote, commit: hardState.commit }),
      });
    }
    if (ops.length === 0) return;
    const pos: RaftPosition = {
      seq: this.pos.seq + 1,
      lastIndex: newLast,
      lastTerm: entries.length > 0 ? entries.at(-1)!.term : this.pos.lastTerm,
      term: hardState?.term ?? this.pos.term,
      vote: hardState ? hardState.vote : this.pos.vote,
    };
    ops.push({ type: 'put', key: POSITION, value: encode({ seq: pos.seq }) });
    await this.db.batch(ops, true);
    this.last = newLast;
    this.pos = pos;
    this.marker?.record(pos);
  }

  /** Batch ops that replace stored entries' data (same index, term and type): erasure. */
  static rewriteOps(entries: Entry[]): Op[] {
    return entries.map((e) => ({
      type: 'put' as const,
      key: logKey(e.index),
      value: encode({ term: e.term, type: e.type, data: e.data }),
    }));
  }

  async hardState(): Promise<HardState | undefined> {
    const v = await this.db.get(HARD_STATE);
    if (!v) return undefined;
    const m = expectMap(decode(v), 'hardState');
    expectKeys(m, ['commit', 'term'], 'hardState', ['vote']);
    return {
      term: expectInteger(m['term'], 'hardState.term'),
      vote:
        m['vote'] === null || m['vote'] === undefined
          ? null
          : expectString(m['vote'], 'hardState.vote'),
      commit: expectInteger(m['commit'], 'hardState.commit'),
    };
  }

  async entries(from: number, to: number): Promise<Entry[]> {
    const out: Entry[] = [];
    for await (const [k, v] of this.db.range(new Uint8Array([Bucket.raftLog]), {
      gte: logKey(from),
      lt: logKey(to + 1),
    })) {
      const m = expectMap(decode(v), 'entry');
      const type = expectString(m['type'], 'entry.type');
      if (type !== 'noop' && type !== 'block' && type !== 'config') {
        throw new Error(`raft log entry has unknown type ${type}`);
      }
      out.push({
        index: readU64(k, 1),
        term: expectInteger(m['term'], 'entry.term'),
        type,
        data: expectBytes(m['data'], 'entry.data'),
      });
    }
    return out;
  }

  /** Drops log entries up to `index` once a snapshot covers them. */
  async compact(snapshot: RaftSnapshotMeta): Promise<void> {
    const ops: Op[] = [{ type: 'put', key: SNAPSHOT, value: encode({ ...snapshot }) }];
    for (let i = this.first; i <= snapshot.index && i <= this.last; i++) {
      ops.push({ type: 'del', key: logKey(i) });
    }
    await this.db.batch(ops, true);
    this.first = snapshot.index + 1;
    if (this.last < snapshot.index) this.last = snapshot.index;
  }

  async snapshot(): Promise<RaftSnapshotMeta | undefined> {
    const v = await this.db.get(SNAPSHOT);
    if (!v) return undefined;
    const m = expectMap(decode(v), 'snapshot');
    return {
      index: expectInteger(m['index'], 'snapshot.index'),
      term: expectInteger(m['term'], 'snapshot.term'),
      data: expectBytes(m['data'], 'snapshot.data'),
    };
  }
}
