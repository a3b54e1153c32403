/**
 * The daemon: the consensus loop and block apply. It drives the engine with a timer and the
 * network, and handles each Ready in the order that keeps a crash at any point safe - persist
 * (entries and hard state, fsynced), then send, then apply committed entries (each block one
 * atomic batch), then advance. As leader it builds blocks from the mempool. It is the one owner
 * of the engine: everything else reads its status or asks it for a change (`consensus`).
 * Transaction intake, announcements, membership and status live in their own modules.
 */
import { EventEmitter } from 'node:events';
import type { ConfChange, Entry, Membership } from '@ehr/consensus';
import {
  blockHash,
  EhrError,
  isEhrError,
  type LoopStatus,
  publicKeyOf,
  toHex,
  verifyBlockSignature,
} from '@ehr/core';
import {
  applyBlock,
  type BlockResult,
  type TxDecoder,
  type VerifiedTxs,
  type WireLimits,
} from '@ehr/ledger';
import { decodeBlockEntry } from './block-entry.ts';
import { LogCompactor } from './compaction.ts';
import type { NodeConfig } from './config.ts';
import { ConsensusInbound } from './consensus-inbound.ts';
import { ConsensusRefusals } from './consensus-refusals.ts';
import { redactionsFor } from './erasure.ts';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';
import type {
  BlockEvent,
  Network,
  NodeStore,
  PreparedBatch,
  Raft,
  RaftReady,
  RaftStatus,
  RaftView,
} from './ports.ts';
import { Proposer } from './proposer.ts';
import type { SnapshotInstaller } from './snapshot-install.ts';
import type { SettledTx, TxIntake } from './tx-intake.ts';

/** What the loop needs of transaction intake: the mempool to build from, and where results go. */
export type TxSink = Pick<TxIntake, 'mempool' | 'settled' | 'refused'>;

export interface DaemonParts {
  config: Pick<NodeConfig, 'consensus'>;
  chainId: string;
  secretKey: Uint8Array;
  store: NodeStore;
  network: Pick<
    Network,
    'send' | 'onConsensusMessage' | 'refreshMembership' | 'onPeerDisconnected' | 'request'
  >;
  raft: Raft;
  txs: TxSink;
  logger: Logger;
  metrics: NodeMetrics;
  /** Byte limits from the genesis limits (wireLimits): bodies, block content, frames. */
  wire: Pick<WireLimits, 'blockContentBytes'>;
  now?: () => number;
  /** How transactions the mempool does not hold are decoded (default core's decodeTx). */
  decodeTx?: TxDecoder;
  /**
   * Brings this node up to a leader's snapshot from members' blocks (snapshot-install.ts).
   * Without it a snapshot halts the loop with a message saying so.
   */
  installer?: Pick<SnapshotInstaller, 'install'>;
}

/** How long connections to a removed member outlive the change (its last messages drain). */
const MEMBERSHIP_GRACE_MS = 1000;

export class Daemon extends EventEmitter {
  readonly nodeId: string;
  private readonly parts: DaemonParts;
  private readonly proposer: Proposer;
  private readonly refusals: ConsensusRefusals;
  /** Consensus messages in: decoded, compact entries filled, stepped (consensus-inbound.ts). */
  private readonly inbound: ConsensusInbound;
  private tickTimer: NodeJS.Timeout | undefined;
  private offDisconnect: () => void = () => {};
  private looping = false;
  private again = false;
  private stopped = false;
  private fatal: Error | undefined;
  private idle: Promise<void> = Promise.resolve();
  private wasLeader = false;
  /** When the current consensus-loop pass began (0 when idle); a stuck pass shows in status. */
  private loopStartedAt = 0;
  private loopStage = 'idle';
  /** Removed members the engine still replicated to at the last tick. */
  private leavingCount = 0;
  /** Held at start until catch-up has looked for peers: the engine neither ticks nor listens. */
  private paused = false;
  private readonly verified: VerifiedTxs;
  /** Results of blocks catch-up sync already executed to verify them, by block hash. */
  private readonly preverified = new Map<string, BlockResult>();
  private readonly compactor: LogCompactor;

  /** The engine as everyone else may use it: its view, and the changes they may ask for. */
  readonly consensus: {
    status(): RaftStatus;
    view(): RaftView;
    membership(): Readonly<Membership>;
    proposeMembership(change: ConfChange): void;
    transferLeadership(to: string): void;
  };

  constructor(parts: DaemonParts) {
    super();
    this.parts = parts;
    this.nodeId = toHex(publicKeyOf(parts.secretKey));
    this.refusals = new ConsensusRefusals({ logger: parts.logger, metrics: parts.metrics });
    const { store, config, txs } = parts;
    // What this node admitted was decoded and its signature checked then: never again.
    this.verified = { has: (h) => txs.mempool.has(h), decoded: (h) => txs.mempool.decoded(h) };
    this.proposer = new Proposer({
      chainId: parts.chainId,
      secretKey: parts.secretKey,
      committedState: store.state,
      committedTip: () => store.head(),
      mempool: txs.mempool,
      verified: this.verified,
      ...(parts.decodeTx ? { decodeTx: parts.decodeTx } : {}),
      maxBlockTxs: config.consensus.maxBlockTxs,
      maxBlockBytes: config.consensus.maxBlockBytes,
      // Bodies count: a block with its bodies stays one consensus entry within a frame.
      maxBlockContentBytes: parts.wire.blockContentBytes,
      now: parts.now ?? Date.now,
    });
    const raft = parts.raft;
    this.inbound = new ConsensusInbound({
      step: (from, m) => raft.stepMessage(from, m),
      source: { tx: (h) => txs.mempool.get(h) },
      network: parts.network,
      refused: (from, err) => this.refusals.refused(from, err),
      delivered: () => this.wake(),
      live: () => !this.stopped && !this.paused,
      metrics: parts.metrics,
    });
    this.compactor = new LogCompactor({
      store,
      raft,
      config: config.consensus,
      logger: parts.logger,
      metrics: parts.metrics,
      wake: () => this.wake(),
    });
    this.consensus = {
      status: () => raft.status(),
      view: () => raft.view(),
      membership: () => raft.membership(),
      proposeMembership: (change) => {
        raft.proposeMembership(change);
        this.wake();
      },
      transferLeadership: (to) => {
        raft.transferLeadership(to);
        this.wake();
      },
    };
  }

  get logger(): Logger {
    return this.parts.logger;
  }

  /** `paused`: start with the engine held (catch-up sync at start resumes it). */
  start(opts: { paused?: boolean } = {}): void {
    const { network, config } = this.parts;
    this.paused = opts.paused === true;
    // Dropped while held at start: Raft retransmits.
    network.onConsensusMessage((from, bytes) => this.inbound.receive(from, bytes));
    // A crashed leader's connections close at once: campaign soon instead of after a full
    // election timeout (pre-vote keeps a flapping link from disturbing anyone).
    this.offDisconnect = network.onPeerDisconnected((id) => {
      if (this.stopped || this.paused) return;
      if (this.parts.raft.view().leader !== id) return;
      this.logger.info({ leader: id }, 'lost every connection to the leader; campaigning soon');
      this.parts.raft.leaderLost(id);
      this.wake();
    });
    this.tickTimer = setInterval(() => {
      if (this.stopped) return;
      if (!this.paused) this.parts.raft.tick();
      // A removed member the leader no longer tells of its removal: drop its connections now.
      const leaving = this.parts.raft.leaving().length;
      if (leaving < this.leavingCount) void this.parts.network.refreshMembership().catch(() => {});
      this.leavingCount = leaving;
      this.wake();
    }, config.consensus.tickMs);
    this.tickTimer.unref?.();
    this.wake();
  }

  /** Graceful shutdown: hand leadership over, finish the current Ready, stop. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const st = this.parts.raft.status();
    if (st.role === 'leader') {
      const target = bestSuccessor(st);
      if (target) {
        this.logger.info({ to: target }, 'transferring leadership before shutdown');
        try {
          this.consensus.transferLeadership(target);
          await waitFor(() => this.parts.raft.view().leader !== this.nodeId, 2000);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'leadership transfer failed');
        }
      }
    }
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.offDisconnect();
    await this.idle;
  }

  /** Runs the loop soon; coalesces many triggers into one pass. */
  wake(): void {
    if (this.stopped || this.fatal || this.paused) return;
    if (this.looping) {
      this.again = true;
      return;
    }
    this.looping = true;
    this.idle = this.loop().finally(() => {
      this.looping = false;
      if (this.again && !this.stopped) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Lets a daemon started paused run (catch-up sync, once it has looked for peers). */
  resume(): void {
    this.paused = false;
    this.wake();
  }

  /**
   * Stops the consensus loop for good because of `err` (the scrubber found the store damaged):
   * the node commits nothing more, refuses submissions, and says why in its status.
   */
  haltFor(err: Error): void {
    if (this.fatal) return;
    this.halt(err);
  }

  /** Why the loop stopped, once it has (the node serves reads but commits nothing). */
  halted(): Error | undefined {
    return this.fatal;
  }

  loopStatus(): LoopStatus {
    return {
      stage: this.loopStage,
      busyMs: this.loopStartedAt ? Date.now() - this.loopStartedAt : 0,
      inflightBlocks: this.proposer.inflightCount,
      paused: this.paused,
    };
  }

  /**
   * Catch-up sync: hands the engine entries a member served as committed, then persists and
   * applies them through the same Ready path as replicated ones. `prepare` runs with the loop
   * held, so a batch is trimmed, verified and executed against exactly the state it will be
   * applied to (the engine keeps running between batches, and replication may have applied some
   * of it meanwhile); the results it returns keep blocks from being executed twice.
   */
  async ingestWith(prepare: () => Promise<PreparedBatch>): Promise<void> {
    if (this.fatal) throw this.fatal;
    await this.exclusive(async () => {
      const batch = await prepare();
      if (!batch) return;
      const { entries, results } = batch;
      for (const [h, r] of results) this.preverified.set(h, r);
      try {
        this.parts.raft.acceptCommitted(entries);
        await this.drainReady();
      } catch (err) {
        // A failure while applying what was verified is this node's own problem: stop, as the
        // loop does.
        if (!isEhrError(err) || !err.code.startsWith('CONSENSUS_')) this.halt(err as Error);
        throw err;
      } finally {
        this.preverified.clear();
      }
    });
  }

  private async loop(): Promise<void> {
    this.loopStartedAt = Date.now();
    try {
      do {
        this.again = false;
        await this.drainReady();
        this.noteRole();
        await this.maybePropose();
        this.loopStage = 'compact';
        await this.compactor.step();
      } while (this.again && !this.stopped);
    } catch (err) {
      // A snapshot install given up because the node stops is no failure.
      if (!(this.stopped && isEhrError(err, 'SYNC_STOPPED'))) this.halt(err as Error);
    } finally {
      this.loopStartedAt = 0;
      this.loopStage = 'idle';
    }
  }

  /** Handles every pending Ready: persist, send, apply, advance. */
  private async drainReady(): Promise<void> {
    const raft = this.parts.raft;
    // Restarted (or interrupted) while installing a snapshot: the blocks up to it come first.
    await this.installPending();
    while (raft.hasReady()) {
      const rd = raft.ready();
      await this.handleReady(rd);
      raft.advance(rd);
      // The engine takes a configuration change on advance: only now does a removed member stop
      // counting as one, so only now can its connections be dropped.
      if (rd.committed.some((e) => e.type === 'config')) {
        const { voters, learners } = raft.status();
        this.logger.info({ voters, learners }, 'membership now');
        // A removed member learns of its removal from the commit index this Ready just sent:
        // drop its connections a moment later, so that message is not cut off in the queue.
        const t = setTimeout(() => {
          if (!this.stopped) void this.parts.network.refreshMembership().catch(() => {});
        }, MEMBERSHIP_GRACE_MS);
        t.unref?.();
        this.emit('membership');
      }
    }
  }

  /**
   * Runs `fn` while the consensus loop is idle and holds the loop off until it is done (the
   * catch-up sync feeds the engine entries this way).
   */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    while (this.looping) await this.idle;
    this.looping = true;
    const run = fn();
    this.idle = run.then(
      () => {},
      () => {},
    );
    try {
      return await run;
    } finally {
      this.looping = false;
      if (this.again && !this.stopped) {
        this.again = false;
        this.wake();
      }
    }
  }

  private halt(err: Error): void {
    this.fatal = err;
    this.logger.fatal({ err: err.message, code: (err as EhrError).code }, 'consensus loop stopped');
    this.emit('fatal', err);
  }

  private async handleReady(rd: RaftReady): Promise<void> {
    // 0. a leader's snapshot: this node is behind its compacted log. The engine dropped its
    // log; so does the store (with the snapshot record, so a restart resumes the install),
    // then the blocks up to it come from members, before the answer to the leader goes out.
    if (rd.snapshot) {
      this.loopStage = 'install';
      await this.parts.store.compactLog(rd.snapshot, { discard: true });
      this.parts.metrics.compactedIndex.set(rd.snapshot.index);
      await this.installPending();
    }
    // 1. persist: the log and the vote must be durable before anyone hears of them.
    this.loopStage = 'persist';
    if (rd.entries.length > 0 || rd.hardState) {
      await this.parts.store.saveRaft(rd.entries, rd.hardState);
    }
    // 2. send
    this.loopStage = 'send';
    for (const m of rd.messages) this.parts.network.send(m.to, m.bytes);
    // 3. apply
    this.loopStage = 'apply';
    for (const e of rd.committed) await this.applyEntry(e);
    this.loopStage = 'advance';
  }

  /**
   * While the stored log starts after this node's applied index (a snapshot was installed),
   * downloads, verifies and applies the entries up to it from members' block stores.
   */
  private async installPending(): Promise<void> {
    const { store, logger, metrics } = this.parts;
    const target = store.compactedIndex();
    if (store.head().applied >= target) return;
    const installer = this.parts.installer;
    if (!installer) {
      throw new EhrError(
        'SNAPSHOT_UNSUPPORTED',
        `this node is behind the consensus log's compacted index ${target} and has no way to fetch blocks from members`,
        { target },
      );
    }
    const stage = this.loopStage;
    this.loopStage = 'install';
    const from = store.head();
    logger.info(
      { from: from.height, applied: from.applied, target },
      "behind the leader's compacted log: installing its snapshot from members' blocks",
    );
    await installer.install(
      target,
      async (entries, results) => {
        for (const [h, r] of results) this.preverified.set(h, r);
        try {
          for (const e of entries) await this.applyEntry(e);
        } finally {
          this.preverified.clear();
        }
      },
      () => this.stopped,
    );
    metrics.snapshotsInstalled.inc();
    const now = store.head();
    logger.info(
      { height: now.height, applied: now.applied, blocks: now.height - from.height },
      'snapshot installed; replication goes on from it',
    );
    this.loopStage = stage;
  }

  private noteRole(): void {
    const st = this.parts.raft.view();
    const leader = st.role === 'leader';
    if (this.wasLeader && !leader) this.proposer.reset();
    this.wasLeader = leader;
    const m = this.parts.metrics;
    const pool = this.parts.txs.mempool;
    m.term.set(st.term);
    m.isLeader.set(leader ? 1 : 0);
    m.mempoolSize.set(pool.size);
    m.mempoolBytes.set(pool.byteSize);
  }

  /** Applies one committed entry: a block is executed (or taken as verified) and stored. */
  private async applyEntry(e: Entry): Promise<void> {
    const { store, txs } = this.parts;
    if (e.index <= store.head().applied) return;
    if (e.type === 'config') {
      const change = this.parts.raft.applyConfig(e);
      this.logger.info(change, 'membership change committed');
      await store.setApplied(e.index, { term: e.term, type: 'config', data: e.data });
      return;
    }
    if (e.type !== 'block') {
      await store.setApplied(e.index, { term: e.term, type: 'noop' });
      return;
    }
    const entry = decodeBlockEntry(e.data);
    const header = entry.block.header;
    const hash = blockHash(header);
    const hashHex = toHex(hash);
    const head = store.head();
    let result: BlockResult | undefined =
      this.proposer.committed(header.height, hashHex)?.result ?? this.preverified.get(hashHex);
    if (!result) {
      if (!verifyBlockSignature(entry.block)) {
        throw new EhrError(
          'BLOCK_INVALID',
          `committed block ${header.height} has a bad proposer signature`,
          { height: header.height },
        );
      }
      // A committed block that this node computes differently means its state diverged:
      // stop rather than serve a forked state (applyBlock throws STATE_MISMATCH).
      result = await applyBlock(store.state, entry.block, entry.payloads, {
        prevStateHash: head.stateHash,
        verified: this.verified,
        ...(this.parts.decodeTx ? { decode: this.parts.decodeTx } : {}),
      });
    }
    const { erased, referenced } = result.payloads;
    // Only entries the log still holds are rewritten (one installed from a snapshot, or
    // compacted, left its body to the block store alone, which erasure clears).
    const inLog = store.compactedIndex();
    const redactions =
      erased.length > 0
        ? (await redactionsFor(store, erased, e)).filter((r) => r.index > inLog)
        : [];
    await store.commitBlock({
      blockBytes: entry.blockBytes,
      header,
      hash,
      height: header.height,
      stateHash: result.stateHash,
      time: header.time,
      receipts: result.receipts,
      writes: result.writes,
      payloads: new Map(
        [...entry.payloads].filter(([h]) => referenced.includes(h) && !erased.includes(h)),
      ),
      erased,
      raftIndex: e.index,
      raftTerm: e.term,
      redactions,
    });
    // The engine serves its log to lagging followers: it must forget the bodies too.
    for (const r of redactions) this.parts.raft.redact(r.index, r.data);
    if (redactions.length > 0) {
      this.logger.info(
        { bodies: erased.length, entries: redactions.map((r) => r.index) },
        'erased bodies removed from the consensus log',
      );
    }
    const settled: SettledTx[] = result.receipts.map((r) => ({
      hash: r.hash,
      index: r.index,
      ok: r.ok,
      code: r.code,
      message: r.message,
      nonceOf: r.nonceConsumed ? r.author : null,
    }));
    await txs.settled({ height: header.height, time: header.time, txs: settled });
    const m = this.parts.metrics;
    m.height.set(header.height);
    m.committedTxs.inc(settled.length);
    if (result.consensusChanges.length > 0) this.emit('consensusChanges', result.consensusChanges);
    this.emit('block', {
      height: header.height,
      hash: hashHex,
      stateHash: toHex(result.stateHash),
      txs: settled.map((r) => r.hash),
      time: header.time,
      receipts: result.receipts.map((r) => ({
        hash: r.hash,
        author: r.author,
        kind: r.kind,
        ok: r.ok,
        code: r.code,
      })),
    } satisfies BlockEvent);
  }

  private async maybePropose(): Promise<void> {
    const st = this.parts.raft.view();
    if (!st.canPropose || this.stopped) return;
    const max = this.parts.config.consensus.maxInflightBlocks;
    const pool = this.parts.txs.mempool;
    while (this.proposer.inflightCount < max && pool.size > 0) {
      this.loopStage = 'build';
      const { built, rejected } = await this.proposer.build(st.term);
      this.parts.txs.refused(rejected);
      if (!built) return;
      try {
        this.parts.raft.proposeBlock(built.entry);
      } catch (err) {
        this.proposer.reset();
        this.logger.warn({ err: (err as Error).message }, 'block proposal refused');
        return;
      }
      // Drain the engine so the block goes out now, not at the next tick.
      await this.drainReady();
    }
  }
}

/** The voter with the highest match index: the one that can take over soonest. */
function bestSuccessor(st: RaftStatus): string | undefined {
  let best: string | undefined;
  let bestMatch = -1;
  for (const v of st.voters) {
    if (v === st.id) continue;
    const m = st.progress[v] ?? -1;
    if (m > bestMatch) {
      best = v;
      bestMatch = m;
    }
  }
  return best;
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new EhrError('TIMEOUT', `condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
