/**
 * The consensus log and hard state. Appending entries from index i replaces whatever the log held
 * from i on (Raft's conflict rule), in the same synced batch as the hard state, so a restarted
 * node rebuilds exactly what it had promised.
 *
 * Compaction: a snapshot record (the engine's Snapshot: index, term, membership, the last block
 * hash, and the node's data) replaces the log up to its index, in one synced batch. What an
 * applied entry was stays as a stub (Bucket.raftStub, written when the entry is applied): its
 * term and type, a block's height and payload hashes, a config change's data - never a body.
 */

import type { Entry, EntryType, HardState, Membership, Snapshot } from '@ehr/consensus';
import {
  decode,
  EhrError,
  encode,
  expectArray,
  expectBytes,
  expectInteger,
  expectKeys,
  expectMap,
  expectString,
  type Value,
} from '@ehr/core';
import { Bucket, key, readU64, u64 } from './buckets.ts';
import type { Db, Op } from './db.ts';
import type { RaftMarker, RaftPosition } from './raft-marker.ts';

const HARD_STATE = key(Bucket.raftState, new Uint8Array([1]));
const SNAPSHOT = key(Bucket.raftState, new Uint8Array([2]));
/** The position after the last save (sequence, last index and term, term, vote): raft-marker.ts. */
const POSITION = key(Bucket.raftState, new Uint8Array([3]));
const logKey = (index: number) => key(Bucket.raftLog, u64(index));
const stubKey = (index: number) => key(Bucket.raftStub, u64(index));

/**
 * What an applied entry was, once its body is gone from the log: a block entry is rebuilt from
 * the block store (block at `height`, with the payload bodies `payloads` it carried that are not
 * erased); a config entry keeps its data (a few bytes); a no-op has none.
 */
export interface EntryStub {
  index: number;
  term: number;
  type: EntryType;
  height?: number;
  /** Payload hashes the block entry carried (32 bytes each). */
  payloads?: Uint8Array[];
  data?: Uint8Array;
}

function encodeMembership(m: Membership) {
  return { voters: [...m.voters], learners: [...m.learners], removed: [...m.removed] };
}

function decodeIds(v: Value | undefined, what: string): string[] {
  return expectArray(v, what).map((x, i) => expectString(x, `${what}[${i}]`));
}

function decodeEntryType(v: Value | undefined, what: string): EntryType {
  const type = expectString(v, what);
  if (type !== 'noop' && type !== 'block' && type !== 'config') {
    throw new Error(`raft log entry has unknown type ${type}`);
  }
  return type;
}

export class RaftRepo {
  private readonly db: Db;
  private last = 0;
  private first = 1;
  private pos: RaftPosition = { seq: 0, lastIndex: 0, lastTerm: 0, term: 0, vote: null };
  private marker: RaftMarker | undefined;
  private compacted = 0;

  constructor(db: Db) {
    this.db = db;
  }

  async load(): Promise<void> {
    const prefix = new Uint8Array([Bucket.raftLog]);
    for await (const [k] of this.db.range(prefix, { reverse: true, limit: 1 }))
      this.last = readU64(k, 1);
    for await (const [k] of this.db.range(prefix, { limit: 1 })) this.first = readU64(k, 1);
    const snapshot = await this.snapshot();
    this.compacted = snapshot?.index ?? 0;
    if (this.last === 0 || (snapshot && this.last < snapshot.index)) {
      this.first = (snapshot?.index ?? 0) + 1;
      this.last = snapshot?.index ?? 0;
    }
    const hs = await this.hardState();
    let lastTerm = this.last === 0 ? 0 : ((await this.entries(this.last, this.last))[0]?.term ?? 0);
    // Compacted (or installed) up to the end of the log: the snapshot holds the last position.
    if (snapshot && this.last === snapshot.index && this.first > this.last)
      lastTerm = snapshot.term;
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

  /** The index the log was compacted to (the snapshot's; 0: never compacted). */
  get compactedIndex(): number {
    return this.compacted;
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
      out.push(decodeLogEntry(readU64(k, 1), v));
    }
    return out;
  }

  /** The entry at `index` if the log holds it (a point read). */
  async entry(index: number): Promise<Entry | undefined> {
    const v = await this.db.get(logKey(index));
    return v ? decodeLogEntry(index, v) : undefined;
  }

  /** What an applied entry was (written when it was applied; kept after compaction). */
  async stub(index: number): Promise<EntryStub | undefined> {
    const v = await this.db.get(stubKey(index));
    if (!v) return undefined;
    const m = expectMap(decode(v), 'stub');
    return {
      index,
      term: expectInteger(m['term'], 'stub.term'),
      type: decodeEntryType(m['type'], 'stub.type'),
      ...(m['height'] !== undefined ? { height: expectInteger(m['height'], 'stub.height') } : {}),
      ...(m['payloads'] !== undefined
        ? {
            payloads: expectArray(m['payloads'], 'stub.payloads').map((p, i) =>
              expectBytes(p, `stub.payloads[${i}]`, 32),
            ),
          }
        : {}),
      ...(m['data'] !== undefined ? { data: expectBytes(m['data'], 'stub.data') } : {}),
    };
  }

  /** Batch op recording an applied entry's stub (in the batch that applies it). */
  static stubOp(s: EntryStub): Op {
    return {
      type: 'put',
      key: stubKey(s.index),
      value: encode({
        term: s.term,
        type: s.type,
        ...(s.height !== undefined ? { height: s.height } : {}),
        ...(s.payloads !== undefined ? { payloads: s.payloads } : {}),
        ...(s.data !== undefined ? { data: s.data } : {}),
      }),
    };
  }

  /** The term of the entry at `index`: from the log, its stub, or the snapshot at it. */
  async termAt(index: number): Promise<number | undefined> {
    if (index === 0) return 0;
    const e = await this.db.get(logKey(index));
    if (e) return expectInteger(expectMap(decode(e), 'entry')['term'], 'entry.term');
    const s = await this.stub(index);
    if (s) return s.term;
    const snap = await this.snapshot();
    return snap?.index === index ? snap.term : undefined;
  }

  /** Log entries first..last, in order, read a batch at a time (nothing held whole). */
  async *iterate(from: number, to: number): AsyncGenerator<Entry> {
    for await (const [k, v] of this.db.range(new Uint8Array([Bucket.raftLog]), {
      gte: logKey(from),
      lt: logKey(to + 1),
    })) {
      yield decodeLogEntry(readU64(k, 1), v);
    }
  }

  /** Indexes of log entries held at or below `index` (after compaction: none). */
  async countAtOrBelow(index: number): Promise<number> {
    let n = 0;
    for await (const _ of this.db.range(new Uint8Array([Bucket.raftLog]), {
      lt: logKey(index + 1),
      values: false,
    }))
      n++;
    return n;
  }

  /**
   * Drops the log up to `snapshot.index` (the node applied it and its blocks are durably in the
   * block store) and records the snapshot, in one synced batch. `discard`: the engine installed
   * the snapshot from its leader and dropped its whole log; so does the store (entries after
   * the snapshot were never applied here, and may conflict). The recorded position follows, so
   * the raft marker keeps proving nothing acknowledged was lost.
   */
  async compact(
    snapshot: Snapshot,
    opts: { discard?: boolean; stubs?: EntryStub[] } = {},
  ): Promise<void> {
    const ops: Op[] = [{ type: 'put', key: SNAPSHOT, value: encodeSnapshot(snapshot) }];
    for (const s of opts.stubs ?? []) ops.push(RaftRepo.stubOp(s));
    const upTo = opts.discard ? this.last : Math.min(snapshot.index, this.last);
    for (let i = this.first; i <= upTo; i++) ops.push({ type: 'del', key: logKey(i) });
    const newLast = opts.discard ? snapshot.index : Math.max(this.last, snapshot.index);
    const pos: RaftPosition = {
      ...this.pos,
      seq: this.pos.seq + 1,
      lastIndex: newLast,
      lastTerm: newLast === this.last && !opts.discard ? this.pos.lastTerm : snapshot.term,
    };
    ops.push({ type: 'put', key: POSITION, value: encode({ seq: pos.seq }) });
    await this.db.batch(ops, true);
    this.first = snapshot.index + 1;
    this.compacted = snapshot.index;
    this.last = newLast;
    this.pos = pos;
    this.marker?.record(pos);
  }

  /**
   * The snapshot record. One written before snapshots carried their membership and last block
   * hash (no version of this node did) is refused: the engine cannot start from it.
   */
  async snapshot(): Promise<Snapshot | undefined> {
    const v = await this.db.get(SNAPSHOT);
    if (!v) return undefined;
    const m = expectMap(decode(v), 'snapshot');
    if (m['membership'] === undefined || m['lastBlockHash'] === undefined) {
      throw new EhrError(
        'STORE_UNSUPPORTED',
        `${this.db.dir} holds a compacted consensus log written by another program (its snapshot record names no membership or last block hash); resync this node from an empty data directory`,
        { dir: this.db.dir },
      );
    }
    const ms = expectMap(m['membership'], 'snapshot.membership');
    return {
      index: expectInteger(m['index'], 'snapshot.index'),
      term: expectInteger(m['term'], 'snapshot.term'),
      membership: {
        voters: decodeIds(ms['voters'], 'snapshot.membership.voters'),
        learners: decodeIds(ms['learners'], 'snapshot.membership.learners'),
        removed: decodeIds(ms['removed'], 'snapshot.membership.removed'),
      },
      lastBlockHash: expectBytes(m['lastBlockHash'], 'snapshot.lastBlockHash', 32),
      data: expectBytes(m['data'], 'snapshot.data'),
    };
  }
}

function encodeSnapshot(s: Snapshot): Uint8Array {
  return encode({
    index: s.index,
    term: s.term,
    membership: encodeMembership(s.membership),
    lastBlockHash: s.lastBlockHash,
    data: s.data,
  });
}

function decodeLogEntry(index: number, v: Uint8Array): Entry {
  const m = expectMap(decode(v), 'entry');
  return {
    index,
    term: expectInteger(m['term'], 'entry.term'),
    type: decodeEntryType(m['type'], 'entry.type'),
    data: expectBytes(m['data'], 'entry.data'),
  };
}
