/**
 * Log compaction: once blocks are applied and durably in the block store, the consensus log
 * entries that carried them are dropped, keeping `logTailEntries` behind the applied index for
 * followers a little behind (one further behind gets the engine's snapshot and catches up from
 * blocks: snapshot-install.ts).
 *
 * Block application is not synced (the synced log replays it after a power loss), so the log
 * may only go below what the block store holds durably. Every `compactEveryEntries` applied
 * entries a flush runs beside the loop (Store.flush: LevelDB writes its memtable into a synced
 * table file, so every write before it is on disk, whichever write-ahead log file it went to);
 * the head it covers is the durable head. Compaction then drops the log up to
 * min(durable applied index, applied index - tail): the engine first (its memory), then the
 * store in one synced batch (snapshot record, log entries deleted, stubs it lacked). A crash
 * between the two loses nothing (the engine is rebuilt from the store); a crash before the
 * store's batch leaves the log whole; after it, the blocks below are durable already.
 */
import type { Entry } from '@ehr/consensus';
import { decode, encode, expectInteger, expectMap, fromHex, toHex } from '@ehr/core';
import type { EntryStub } from '@ehr/store';
import { decodeBlockEntry, decodeBlockEntryBlock } from './block-entry.ts';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';
import type { NodeStore, Raft } from './ports.ts';

export interface CompactionParts {
  store: Pick<NodeStore, 'head' | 'flush' | 'durable' | 'compactLog' | 'compactedIndex' | 'stub'>;
  raft: Pick<Raft, 'compact' | 'lastBlockHashAt' | 'snapshot' | 'entry'>;
  config: { logTailEntries: number; logTailBytes: number; compactEveryEntries: number };
  logger: Logger;
  metrics: Pick<NodeMetrics, 'compactedIndex' | 'durableHeight'>;
  /** Runs the consensus loop again (a flush finished: compaction may be due). */
  wake(): void;
}

/** What a snapshot's data says: the block height at its index. */
export function encodeSnapshotData(height: number): Uint8Array {
  return encode({ height });
}

export function snapshotHeight(data: Uint8Array): number {
  if (data.length === 0) return 0;
  return expectInteger(expectMap(decode(data), 'snapshot data')['height'], 'snapshot.height');
}

export class LogCompactor {
  private readonly parts: CompactionParts;
  private flushing = false;
  private failed = false;

  constructor(parts: CompactionParts) {
    this.parts = parts;
    parts.metrics.durableHeight.set(parts.store.durable().height);
    parts.metrics.compactedIndex.set(parts.store.compactedIndex());
  }

  /**
   * In the consensus loop, with it held (after a Ready was applied): compacts when enough is
   * durable beyond the last compaction, and starts a flush when enough was applied since the last.
   */
  async step(): Promise<void> {
    const { store, config } = this.parts;
    const head = store.head();
    const durable = store.durable();
    const compacted = store.compactedIndex();
    const byEntries = head.applied - config.logTailEntries;
    const tail = this.tailBytes(head.applied, Math.max(compacted, byEntries), durable.applied);
    // The tail is bounded in entries and in bytes: a few large blocks (documents) hold more
    // memory than hundreds of small ones.
    const target = Math.min(durable.applied, Math.max(byEntries, tail.over));
    const overBytes = tail.over > byEntries && target > compacted;
    if (target - compacted >= config.compactEveryEntries || overBytes) await this.compactTo(target);
    if (
      !this.flushing &&
      !this.failed &&
      (head.applied - durable.applied >= config.compactEveryEntries ||
        tail.sinceDurable > config.logTailBytes / 2)
    )
      this.startFlush();
  }

  /**
   * Walking back from `applied` to `floor` (exclusive): the highest index whose entry, with those
   * after it, passes `logTailBytes` (compacting up to it keeps the tail within the bound; -1 if
   * none does), and the bytes of the entries after the durable point.
   */
  private tailBytes(applied: number, floor: number, durable: number) {
    const { raft, config } = this.parts;
    let bytes = 0;
    let sinceDurable = 0;
    let over = -1;
    for (let i = applied; i > floor; i--) {
      const e = raft.entry(i);
      if (!e) break;
      bytes += e.data.length;
      if (i > durable) sinceDurable += e.data.length;
      if (bytes > config.logTailBytes) {
        over = i;
        break;
      }
    }
    return { over, sinceDurable };
  }

  private startFlush(): void {
    const { store, metrics, logger } = this.parts;
    this.flushing = true;
    store
      .flush()
      .then((h) => {
        metrics.durableHeight.set(h.height);
        this.parts.wake();
      })
      .catch((err: Error) => {
        // Nothing is compacted without it; the log keeps everything (as before compaction).
        this.failed = true;
        logger.error(
          { err: err.message },
          'store flush failed; the consensus log is no longer compacted',
        );
      })
      .finally(() => {
        this.flushing = false;
      });
  }

  /** Drops the log up to `index` (applied, durable, beyond the tail). */
  async compactTo(index: number): Promise<void> {
    const { store, raft, metrics, logger } = this.parts;
    const prev = raft.snapshot();
    const from = (prev?.index ?? 0) + 1;
    if (index < from) return;
    // The block height at `index` (the last block at or before it) and the stubs of entries
    // applied by a version that wrote none.
    let height = prev ? snapshotHeight(prev.data) : 0;
    const stubs: EntryStub[] = [];
    for (let i = from; i <= index; i++) {
      const e = raft.entry(i);
      if (!e) return; // not in the engine's log (installed from a snapshot meanwhile)
      if (e.type === 'block') height = decodeBlockEntryBlock(e.data).block.header.height;
      if (!(await store.stub(i))) stubs.push(stubOf(e));
    }
    raft.compact(index, raft.lastBlockHashAt(index), encodeSnapshotData(height));
    const snap = raft.snapshot();
    if (!snap || snap.index !== index) return;
    await store.compactLog(snap, { stubs });
    metrics.compactedIndex.set(index);
    logger.debug(
      { index, height, entries: index - from + 1, hash: toHex(snap.lastBlockHash).slice(0, 12) },
      'consensus log compacted',
    );
  }
}

/** The stub of an entry (its block's payload hashes are the bodies it carried). */
export function stubOf(e: Entry): EntryStub {
  if (e.type === 'noop') return { index: e.index, term: e.term, type: 'noop' };
  if (e.type === 'config') return { index: e.index, term: e.term, type: 'config', data: e.data };
  const be = decodeBlockEntry(e.data);
  return {
    index: e.index,
    term: e.term,
    type: 'block',
    height: be.block.header.height,
    payloads: [...be.payloads.keys()].map(fromHex),
  };
}
