/**
 * Catch-up sync: a node far behind (at start, or found behind by a periodic check) asks the
 * members it reaches for their committed position, downloads the committed log entries it lacks
 * from several members at once (range fetcher), verifies every batch (sync-verify: links,
 * signatures, validator proposers, state hashes) before anything is persisted, and hands it to
 * the daemon, which persists and applies it through the same Ready path as replicated entries.
 * The engine keeps running meanwhile (a syncing voter still counts towards quorum): each batch
 * is trimmed, verified and ingested with the loop held, against exactly the state it extends,
 * and whatever replication applied first is skipped. Raft replication alone would also catch
 * up; this pulls from every member in parallel instead of from the leader only.
 */
import type { Entry } from '@ehr/consensus';
import { EhrError, type SyncStatus, toHex } from '@ehr/core';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';
import type { BlockEvent, Network, NodeStore, PreparedBatch, RaftStatus } from './ports.ts';
import { fetchRange } from './range-fetcher.ts';
import { fetchEntries, fetchPosition, type SyncPosition } from './sync-protocol.ts';
import { checkEntries, executeBlocks, type SyncCursor } from './sync-verify.ts';

/** What catch-up needs of the consensus loop: a look at it, and a way to feed it. */
export interface SyncPort {
  consensus(): Pick<RaftStatus, 'role' | 'leader' | 'voters'> & { halted: boolean };
  /** Runs `prepare` with the loop held; the entries it returns are persisted and applied. */
  ingestWith(prepare: () => Promise<PreparedBatch>): Promise<void>;
  /** Lets the loop run (it was started held). */
  resume(): void;
  onBlock(fn: (e: BlockEvent) => void): () => void;
  /** No member is found ahead: a leader's announced height beyond this node's is dropped. */
  settleAnnounced(): void;
}

export interface CatchUpParts {
  network: Pick<Network, 'peers' | 'request'>;
  store: Pick<NodeStore, 'head' | 'raftTermAt' | 'state'>;
  chain: SyncPort;
  logger: Logger;
  metrics: NodeMetrics;
  /** Node ids of the other members (validators and observers) right now. */
  members: () => string[];
  config: NodeConfig['sync'];
  /** Log a progress line every this many batches. */
  logEveryBatches?: number;
}

interface PeerPosition extends SyncPosition {
  peer: string;
}

const MAX_ROUNDS = 5;

/**
 * Work per hold of the consensus loop: at most this many entries or bytes of entry data (a few
 * tens of ms of verification and execution on a busy machine).
 */
const SLICE_ENTRIES = 16;
const SLICE_BYTES = 128 * 1024;

function* slices(entries: Entry[]): Generator<Entry[]> {
  let cur: Entry[] = [];
  let bytes = 0;
  for (const e of entries) {
    if (cur.length > 0 && (cur.length >= SLICE_ENTRIES || bytes + e.data.length > SLICE_BYTES)) {
      yield cur;
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += e.data.length;
  }
  if (cur.length > 0) yield cur;
}

export class CatchUp {
  private readonly parts: CatchUpParts;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private busy: Promise<unknown> = Promise.resolve();
  private running = false;
  private last: SyncStatus | null = null;

  constructor(parts: CatchUpParts) {
    this.parts = parts;
  }

  /**
   * At start (the daemon was started paused): waits up to `startupWaitMs` for half the other
   * members to connect, syncs if far behind, then lets consensus run and starts the checks.
   */
  start(): void {
    this.busy = this.exclusive(async () => {
      try {
        await this.waitForPeers();
      } finally {
        // Consensus runs while the node syncs: a voter that stopped answering would cost the
        // network its quorum when other validators are down.
        this.parts.chain.resume();
      }
      await this.syncWhileBehind('start');
    });
    this.timer = setInterval(() => void this.check(), this.parts.config.checkMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.busy;
  }

  /** The running sync's progress, or the last one's outcome (null: none yet). */
  get status(): SyncStatus | null {
    return this.last;
  }

  /** A leader announced a height far above this node's: check now, not at the next period. */
  nudge(): void {
    void this.check();
  }

  /** Periodic: a follower that finds itself far behind the leader (or members) syncs. */
  private async check(): Promise<void> {
    if (this.running || this.stopped) return;
    const st = this.parts.chain.consensus();
    if (st.role === 'leader' || st.halted) return;
    this.busy = this.exclusive(async () => {
      await this.syncWhileBehind('behind', st.leader);
      // Whatever a leader announced, no member serves more than this node now holds (within
      // the threshold): the claim goes.
      this.parts.chain.settleAnnounced();
    });
    await this.busy;
  }

  private async exclusive(fn: () => Promise<void>): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await fn();
    } catch (err) {
      this.parts.logger.warn(
        { err: (err as Error).message, code: (err as EhrError).code },
        'catch-up sync stopped; consensus replication goes on',
      );
    } finally {
      this.running = false;
    }
  }

  private connectedMembers(): string[] {
    const members = new Set(this.parts.members());
    return this.parts.network
      .peers()
      .map((p) => p.nodeId)
      .filter((id) => members.has(id));
  }

  private async waitForPeers(): Promise<void> {
    const others = this.parts.members().length;
    if (others === 0) return;
    const want = Math.ceil(others / 2);
    const end = Date.now() + this.parts.config.startupWaitMs;
    while (!this.stopped && Date.now() < end && this.connectedMembers().length < want) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Positions of the members asked (all connected ones, or only `only` when it is connected). */
  private async positions(only?: string | null): Promise<PeerPosition[]> {
    const connected = this.connectedMembers();
    const ask = only && connected.includes(only) ? [only] : connected;
    const got = await Promise.allSettled(
      ask.map(async (peer) => ({ peer, ...(await fetchPosition(this.parts.network, peer)) })),
    );
    return got.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  private behindBy(positions: PeerPosition[]): number {
    const best = Math.max(0, ...positions.map((p) => p.index));
    return best - this.parts.store.head().applied;
  }

  /** Syncs in rounds while more than `threshold` entries behind (the others move on meanwhile). */
  private async syncWhileBehind(reason: 'start' | 'behind', leader?: string | null): Promise<void> {
    const { config } = this.parts;
    // A cheap look at the leader first; everyone is asked only when it shows a gap.
    if (leader && this.behindBy(await this.positions(leader)) <= config.threshold) return;
    for (let round = 0; round < MAX_ROUNDS && !this.stopped; round++) {
      const positions = await this.positions();
      if (positions.length === 0 || this.behindBy(positions) <= config.threshold) return;
      await this.syncOnce(positions, reason);
    }
  }

  /** Where verification continues: just after what this node has applied. */
  private async cursorFromHead(): Promise<SyncCursor> {
    const { store, chain } = this.parts;
    const head = store.head();
    // The term there: from the log, or the stub it left when compacted.
    const term = head.applied > 0 ? ((await store.raftTermAt(head.applied)) ?? 0) : 0;
    return {
      index: head.applied + 1,
      term,
      height: head.height,
      hash: head.hash,
      voters: chain.consensus().voters,
      termVoters: new Map(),
      termProposer: new Map(),
    };
  }

  private async syncOnce(positions: PeerPosition[], reason: string): Promise<void> {
    const { store, chain, network, metrics, logger, config } = this.parts;
    const best = positions.reduce((a, b) => (b.index > a.index ? b : a));
    const head = store.head();
    const from = head.applied + 1;
    const to = best.index;
    let cursor: SyncCursor = await this.cursorFromHead();
    const status: SyncStatus = {
      active: true,
      targetIndex: to,
      target: best.height,
      index: head.applied,
      height: head.height,
      batches: 0,
      peers: {},
      refused: {},
      startedAt: Date.now(),
      finishedAt: null,
      error: null,
    };
    this.last = status;
    metrics.syncTarget.set(best.height);
    metrics.catchingUp.set(1);
    metrics.syncProgress.set(0);
    logger.info(
      {
        reason,
        from: head.height,
        target: best.height,
        entries: to - from + 1,
        peers: positions.length,
      },
      'catch-up sync started',
    );
    const logEvery = this.parts.logEveryBatches ?? 10;
    // What the batches brought, and everything this node applied meanwhile: replication keeps
    // going, and often applies what a batch was about to (then the batch skips it).
    let blocks = 0;
    let txs = 0;
    const applied = { blocks: 0, txs: 0 };
    const onBlock = (e: BlockEvent) => {
      applied.blocks++;
      applied.txs += e.txs.length;
    };
    const offBlock = chain.onBlock(onBlock);
    const started = performance.now();
    try {
      await fetchRange<Entry>({
        from,
        to,
        batchSize: config.batchSize,
        parallel: config.parallel,
        what: 'log entries',
        peers: (a, b) => {
          const full = positions.filter((p) => p.index >= b).map((p) => p.peer);
          return full.length > 0 ? full : positions.filter((p) => p.index >= a).map((p) => p.peer);
        },
        fetch: (peer, a, b) => {
          if (this.stopped) throw new EhrError('SYNC_STOPPED', 'the node is stopping', {});
          return fetchEntries(network, peer, a, b);
        },
        consume: async (a, entries, peer) => {
          if (this.stopped) throw new EhrError('SYNC_STOPPED', 'the node is stopping', {});
          try {
            // In slices, each ingested with the loop held: between slices the engine answers
            // the leader, so a long batch never keeps this voter silent for an election timeout.
            for (const slice of slices(entries)) {
              let checked: ReturnType<typeof checkEntries> | undefined;
              await chain.ingestWith(async () => {
                // Replication goes on meanwhile: skip what it applied already.
                const applied = store.head().applied;
                const todo = slice.filter((e) => e.index > applied);
                if (todo.length === 0) return null;
                if (todo[0]!.index !== cursor.index) cursor = await this.cursorFromHead();
                // Verified in full before anything is persisted.
                checked = checkEntries(todo, cursor);
                const { results } = await executeBlocks(
                  store.state,
                  checked.blocks,
                  store.head().stateHash,
                );
                return { entries: todo, results };
              });
              if (checked) {
                cursor = checked.next;
                blocks += checked.blocks.length;
                for (const b of checked.blocks) txs += b.entry.block.txs.length;
              }
            }
          } catch (err) {
            status.refused[peer] = (status.refused[peer] ?? 0) + 1;
            metrics.syncRefused.inc(1, { peer: peer.slice(0, 12) });
            logger.warn(
              { peer, from: a, to: a + entries.length - 1, err: (err as Error).message },
              'catch-up sync refused a batch; asking another member',
            );
            throw err;
          }
          const now = store.head();
          status.index = now.applied;
          status.height = now.height;
          status.batches++;
          status.peers[peer] = (status.peers[peer] ?? 0) + 1;
          metrics.syncBatches.inc(1, { peer: peer.slice(0, 12) });
          metrics.syncEntries.inc(entries.length);
          metrics.syncProgress.set((now.applied - head.applied) / Math.max(1, to - head.applied));
          if (status.batches % logEvery === 0) {
            logger.info(
              {
                height: now.height,
                target: best.height,
                batches: status.batches,
                peers: Object.keys(status.peers).length,
              },
              'catch-up sync progress',
            );
          }
        },
      });
    } catch (err) {
      status.error = (err as Error).message;
      throw err;
    } finally {
      offBlock();
      status.active = false;
      status.finishedAt = Date.now();
      metrics.catchingUp.set(0);
    }
    metrics.syncProgress.set(1);
    const secs = (performance.now() - started) / 1000;
    const end = store.head();
    logger.info(
      {
        from: head.height,
        height: end.height,
        hash: toHex(end.hash),
        entries: end.applied - head.applied,
        blocks: applied.blocks,
        txs: applied.txs,
        fetched: { blocks, txs },
        replicated: { blocks: applied.blocks - blocks, txs: applied.txs - txs },
        seconds: Number(secs.toFixed(3)),
        blocksPerSecond: Math.round(applied.blocks / secs),
        txsPerSecond: Math.round(applied.txs / secs),
        batches: status.batches,
        peers: status.peers,
      },
      'catch-up sync done',
    );
  }
}
