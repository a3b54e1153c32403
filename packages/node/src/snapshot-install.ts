/**
 * Installing a leader's snapshot: this node is behind the index the leader compacted its log to,
 * so replication cannot bring the entries up to it. It catches up from blocks instead: it
 * downloads the applied entries up to the snapshot's index from the members it reaches (who
 * serve them rebuilt from their block stores below their own compacted index, log-source.ts),
 * verifies every batch in full (sync-verify.ts: links, signatures, validator proposers, state
 * hashes) and applies it through the daemon's apply path; then Raft replication goes on from
 * the snapshot. Tried again, with a growing pause, until done or the node stops: a snapshot
 * cannot be skipped.
 */
import type { Entry } from '@ehr/consensus';
import { EhrError } from '@ehr/core';
import type { BlockResult } from '@ehr/ledger';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { Network, NodeStore } from './ports.ts';
import { fetchRange } from './range-fetcher.ts';
import { fetchEntries, fetchPosition, type SyncPosition } from './sync-protocol.ts';
import { checkEntries, executeBlocks, type SyncCursor } from './sync-verify.ts';

/** Applies verified entries (with their blocks' results) in order. */
export type ApplyInstalled = (entries: Entry[], results: Map<string, BlockResult>) => Promise<void>;

export interface InstallParts {
  network: Pick<Network, 'peers' | 'request'>;
  /** Node ids of the other members right now. */
  members: () => string[];
  store: Pick<NodeStore, 'head' | 'raftTermAt' | 'state'>;
  /** Validators a block's proposer may be where the download starts. */
  voters: () => string[];
  config: Pick<NodeConfig['sync'], 'batchSize' | 'parallel'>;
  logger: Logger;
  /** Longest pause between attempts, ms (default 5000). */
  maxPauseMs?: number;
}

export class SnapshotInstaller {
  private readonly parts: InstallParts;

  constructor(parts: InstallParts) {
    this.parts = parts;
  }

  /** Brings the applied index to `target`; throws SYNC_STOPPED once `stopped()` says so. */
  async install(target: number, apply: ApplyInstalled, stopped: () => boolean): Promise<void> {
    const { store, logger } = this.parts;
    const maxPause = this.parts.maxPauseMs ?? 5000;
    let pause = 250;
    let attempt = 0;
    while (store.head().applied < target) {
      if (stopped()) throw new EhrError('SYNC_STOPPED', 'the node is stopping', {});
      attempt++;
      try {
        await this.once(target, apply, stopped);
      } catch (err) {
        if (stopped()) throw new EhrError('SYNC_STOPPED', 'the node is stopping', {});
        logger.warn(
          { target, applied: store.head().applied, attempt, err: (err as Error).message },
          'snapshot install: no member served the entries below the snapshot; trying again',
        );
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(maxPause, pause * 2);
      }
    }
  }

  private async once(target: number, apply: ApplyInstalled, stopped: () => boolean): Promise<void> {
    const { store, network, config } = this.parts;
    const from = store.head().applied + 1;
    const members = new Set(this.parts.members());
    const connected = network
      .peers()
      .map((p) => p.nodeId)
      .filter((id) => members.has(id));
    const got = await Promise.allSettled(
      connected.map(async (peer) => ({ peer, ...(await fetchPosition(network, peer)) })),
    );
    const positions = got.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const able = positions.filter((p) => p.index >= from);
    if (able.length === 0) {
      throw new EhrError(
        'SYNC_NO_PEERS',
        `no connected member has applied index ${from} (asked ${connected.length})`,
        {},
      );
    }
    let cursor = await this.cursorFromHead();
    await fetchRange<Entry>({
      from,
      to: target,
      batchSize: config.batchSize,
      parallel: config.parallel,
      what: 'log entries',
      peers: (a, b) => holding(able, a, b),
      fetch: (peer, a, b) => {
        if (stopped()) throw new EhrError('SYNC_STOPPED', 'the node is stopping', {});
        return fetchEntries(network, peer, a, b);
      },
      consume: async (_a, entries) => {
        if (stopped()) throw new EhrError('SYNC_STOPPED', 'the node is stopping', {});
        const todo = entries.filter((e) => e.index > store.head().applied && e.index <= target);
        if (todo.length === 0) return;
        if (todo[0]!.index !== cursor.index) cursor = await this.cursorFromHead();
        // Verified in full before anything is applied.
        const checked = checkEntries(todo, cursor);
        const { results } = await executeBlocks(
          store.state,
          checked.blocks,
          store.head().stateHash,
        );
        await apply(todo, results);
        cursor = checked.next;
      },
    });
  }

  private async cursorFromHead(): Promise<SyncCursor> {
    const head = this.parts.store.head();
    const term = head.applied > 0 ? ((await this.parts.store.raftTermAt(head.applied)) ?? 0) : 0;
    return {
      index: head.applied + 1,
      term,
      height: head.height,
      hash: head.hash,
      voters: this.parts.voters(),
      termVoters: new Map(),
      termProposer: new Map(),
    };
  }
}

/** Members holding a..b (all of it if any does, else those holding its start). */
function holding(positions: (SyncPosition & { peer: string })[], a: number, b: number): string[] {
  const full = positions.filter((p) => p.index >= b).map((p) => p.peer);
  return full.length > 0 ? full : positions.filter((p) => p.index >= a).map((p) => p.peer);
}
