/**
 * A power cut for a store, in-process: every write to its LevelDB after the wrap is journaled
 * (ops, synced or not) with every flush that completed, until `cut()`. `replay` then builds
 * what a disk would hold after the cut, on a copy of the store as it was when wrapped, under the
 * harshest model LevelDB allows: a synced batch survives, an unsynced one survives only if a
 * flush (Store.flush: memtable into a synced table file) completed after it - a later synced
 * batch does not carry it, since LevelDB syncs only the write-ahead log file a write lands in
 * and switches files without syncing the old one. Nothing after the cut survives.
 */
import { cpSync } from 'node:fs';
import { type Db, Db as DbClass, type Op, RaftMarker, RaftRepo } from '@ehr/store';

type Journaled = { kind: 'write'; ops: Op[]; sync: boolean } | { kind: 'flush'; upTo: number };

export class PowerCut {
  private readonly journal: Journaled[] = [];
  private isCut = false;

  /** Journals `db`'s writes from now on (`base`: a copy of its directory as it is now). */
  constructor(db: Db) {
    const batch = db.batch.bind(db);
    const put = db.put.bind(db);
    const flush = db.flush.bind(db);
    db.batch = (ops, sync = true) => {
      if (!this.isCut) this.journal.push({ kind: 'write', ops: [...ops], sync });
      return batch(ops, sync);
    };
    db.put = (key, value, sync = false) => {
      if (!this.isCut)
        this.journal.push({ kind: 'write', ops: [{ type: 'put', key, value }], sync });
      return put(key, value, sync);
    };
    db.flush = async () => {
      const upTo = this.journal.length;
      await flush();
      if (!this.isCut) this.journal.push({ kind: 'flush', upTo });
    };
  }

  /** The power goes: nothing written from now on reaches the disk. */
  cut(): void {
    this.isCut = true;
  }

  /** Counts of what survives and what is lost. */
  summary(): { synced: number; flushed: number; lost: number; flushes: number } {
    const s = this.survivors();
    let synced = 0;
    let flushed = 0;
    let lost = 0;
    let flushes = 0;
    this.journal.forEach((j, i) => {
      if (j.kind === 'flush') flushes++;
      else if (j.sync) synced++;
      else if (s.has(i)) flushed++;
      else lost++;
    });
    return { synced, flushed, lost, flushes };
  }

  private survivors(): Set<number> {
    let durableUpTo = 0;
    for (const j of this.journal)
      if (j.kind === 'flush') durableUpTo = Math.max(durableUpTo, j.upTo);
    const out = new Set<number>();
    this.journal.forEach((j, i) => {
      if (j.kind === 'write' && (j.sync || i < durableUpTo)) out.add(i);
    });
    return out;
  }

  /**
   * Writes what survives into a copy of `base` at `to`, and a raft marker matching it (this
   * test is about blocks; the marker's own power-loss rules are tested in the store).
   */
  async replay(base: string, to: string): Promise<void> {
    cpSync(base, to, { recursive: true });
    const db = await DbClass.open(to);
    try {
      const keep = this.survivors();
      for (const [i, j] of this.journal.entries()) {
        if (j.kind === 'write' && keep.has(i)) await db.batch(j.ops, false);
      }
      await db.flush();
      const repo = new RaftRepo(db);
      await repo.load();
      RaftMarker.create(to, repo.position).close();
    } finally {
      await db.close();
    }
  }
}
