/**
 * The daemon: drives the consensus engine with a timer and the network, and handles each Ready
 * in the order that keeps a crash at any point safe - persist (entries and hard state, fsynced),
 * then send, then apply committed entries (each block one atomic batch), then advance. The
 * leader builds blocks from the mempool; every node gossips and validates transactions.
 */
import { EventEmitter } from 'node:events';
import {
  blockHash,
  decode,
  EhrError,
  encode,
  expectArray,
  expectBytes,
  expectKeys,
  expectMap,
  fromHex,
  isEhrError,
  publicKeyOf,
  type SignedTx,
  sha256,
  toHex,
  txHash,
  verifyBlockSignature,
} from '@ehr/core';
import {
  applyBlock,
  type BlockResult,
  checkTx,
  nextNonce,
  Overlay,
  type WireLimits,
} from '@ehr/ledger';
import { encodeAnnouncement, judgeAnnouncement, type Verdict } from './block-announce.ts';
import { decodeBlockEntry, encodeBlockEntry } from './block-entry.ts';
import type { NodeConfig } from './config.ts';
import type { Logger } from './logger.ts';
import { Mempool, type PendingTx } from './mempool.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Network, NodeStore, Raft, RaftEntry, RaftReady } from './ports.ts';
import { Proposer } from './proposer.ts';
import { type TxStatus, TxTracker } from './tx-tracker.ts';

export interface DaemonParts {
  config: NodeConfig;
  chainId: string;
  secretKey: Uint8Array;
  store: NodeStore;
  network: Network;
  raft: Raft;
  logger: Logger;
  metrics: NodeMetrics;
  maxTxBytes: number;
  /** Byte limits from the genesis limits (wireLimits): bodies, block content, frames. */
  wire: WireLimits;
  now?: () => number;
}

export type SubmitMode = 'async' | 'sync' | 'commit';

/** Catch-up sync progress, shown in status while a sync runs and after the last one. */
export interface SyncStatus {
  active: boolean;
  /** Raft index and block height this sync fetches up to. */
  targetIndex: number;
  target: number;
  /** Raft index and block height applied so far. */
  index: number;
  height: number;
  /** Batches fetched and applied, per serving peer; batches refused (failed checks), per peer. */
  batches: number;
  peers: Record<string, number>;
  refused: Record<string, number>;
  startedAt: number;
  finishedAt: number | null;
  error: string | null;
}

export interface BlockEvent {
  height: number;
  hash: string;
  txs: string[];
  time: number;
  /** Per transaction, in block order: who sent it, what it was, how it went. */
  receipts: {
    hash: string;
    author: string | null;
    kind: string | null;
    ok: boolean;
    code: string | null;
  }[];
}

const TX_TOPIC = 'tx';
/**
 * Direct forwarding of pending transactions to the leader: gossip is fire-and-forget, so a
 * transaction gossiped while this node was cut off (or that the leader dropped) would wait here
 * until it expires. Pending longer than FORWARD_AFTER_MS, it goes straight to the leader, again
 * every FORWARD_EVERY_MS while it stays pending.
 */
const TX_FORWARD = 'tx-forward';
/**
 * The leader announces each block it applies (height, hash, state hash) on this topic: nodes
 * learn the network's height without asking (a node far behind starts catch-up sync at once),
 * and an announcement that contradicts the block a node holds at that height is rejected and
 * its relay penalized.
 */
const BLOCK_TOPIC = 'blocks';
const FORWARD_AFTER_MS = 3000;
const FORWARD_EVERY_MS = 10_000;
const FORWARD_BATCH = 256;
/** Refusals that no later state can change: the transaction can never commit. */
const FINAL_REFUSALS: readonly string[] = [
  'MALFORMED',
  'WRONG_CHAIN',
  'BAD_SIGNATURE',
  'PAYLOAD_TOO_LARGE',
  'DEADLINE_REQUIRED',
  'DEADLINE_TOO_FAR',
  'EXPIRED',
  'NONCE_USED',
  // The ledger's: already applied (the mempool's "already pending" never gets here).
  'DUPLICATE',
];

/** A transaction's status as this node knows it, with whether it can still change. */
export type TxStatusView = TxStatus & {
  final: boolean;
  /** Pending or refused here but still valid: the latest block time it can commit at. */
  canCommitUntil?: number;
  /** Submitted again after it committed: the original's status. */
  duplicate?: true;
};

export class Daemon extends EventEmitter {
  readonly nodeId: string;
  readonly mempool: Mempool;
  readonly tracker = new TxTracker();
  private readonly parts: DaemonParts;
  private readonly proposer: Proposer;
  private readonly now: () => number;
  private tickTimer: NodeJS.Timeout | undefined;
  private looping = false;
  private again = false;
  private stopped = false;
  private fatal: Error | undefined;
  private idle: Promise<void> = Promise.resolve();
  private wasLeader = false;
  /** When the current consensus-loop pass began (0 when idle); a stuck pass shows in status. */
  private loopStartedAt = 0;
  private loopStage = 'idle';
  /** Held at start until catch-up has looked for peers: the engine neither ticks nor listens. */
  private paused = false;
  /** Results of blocks catch-up sync already executed to verify them, by block hash. */
  private readonly preverified = new Map<string, BlockResult>();
  /** Set by the catch-up sync; shown in status. */
  syncStatus: SyncStatus | null = null;

  constructor(parts: DaemonParts) {
    super();
    this.parts = parts;
    this.now = parts.now ?? Date.now;
    this.nodeId = toHex(publicKeyOf(parts.secretKey));
    const { store, config } = parts;
    this.mempool = new Mempool(
      parts.chainId,
      { ...config.mempool, maxTxBytes: parts.maxTxBytes, maxBodyBytes: parts.wire.txBodyBytes },
      (author) => nextNonce(store.state, author),
    );
    this.proposer = new Proposer({
      chainId: parts.chainId,
      secretKey: parts.secretKey,
      committedState: store.state,
      committedTip: () => store.head(),
      mempool: this.mempool,
      verified: { has: (h) => this.mempool.has(h) },
      maxBlockTxs: config.consensus.maxBlockTxs,
      maxBlockBytes: config.consensus.maxBlockBytes,
      // Bodies count: a block with its bodies stays one consensus entry within a frame.
      maxBlockContentBytes: parts.wire.blockContentBytes,
      now: this.now,
    });
  }

  get logger(): Logger {
    return this.parts.logger;
  }

  /** `paused`: start with the engine held (catch-up sync at start resumes it). */
  start(opts: { paused?: boolean } = {}): void {
    const { network, config } = this.parts;
    this.paused = opts.paused === true;
    network.onConsensusMessage((from, bytes) => {
      // Dropped while held at start: Raft retransmits.
      if (this.stopped || this.paused) return;
      try {
        this.parts.raft.step(from, bytes);
      } catch (err) {
        this.refusedConsensus(from, err as Error);
      }
      this.schedule();
    });
    network.subscribe(TX_TOPIC, (from, bytes) => this.onGossipTx(from, bytes));
    network.handle(TX_FORWARD, (from, bytes) => this.onForwarded(from, bytes));
    network.subscribe(BLOCK_TOPIC, (from, bytes) => this.onBlockAnnounced(from, bytes));
    let ticks = 0;
    const hygieneEvery = Math.max(1, Math.round(5000 / config.consensus.tickMs));
    const forwardEvery = Math.max(1, Math.round(1000 / config.consensus.tickMs));
    this.tickTimer = setInterval(() => {
      if (this.stopped) return;
      if (!this.paused) this.parts.raft.tick();
      // Every few seconds: drop what the chain moved past, and what waited too long to be
      // included (it was refused by the leader, or its nonce gap never closed).
      if ((ticks + 1) % forwardEvery === 0) void this.forwardPending();
      if (++ticks % hygieneEvery === 0) {
        void this.mempool
          .evictStale()
          .then((gone) => this.markNonceUsed(gone))
          .catch(() => {});
        // Past its deadline by this node's clock: no honest leader includes it any more. The
        // status turns final once a committed block is past the deadline (txStatus).
        this.markExpired(this.mempool.evictExpired(this.now()));
      }
      this.schedule();
    }, config.consensus.tickMs);
    this.tickTimer.unref?.();
    this.schedule();
  }

  /** Graceful shutdown: hand leadership over, finish the current Ready, stop. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const st = this.parts.raft.status();
    if (st.role === 'leader') {
      const target = this.bestSuccessor();
      if (target) {
        this.logger.info({ to: target }, 'transferring leadership before shutdown');
        try {
          this.parts.raft.transferLeadership(target);
          this.schedule();
          await this.waitFor(() => this.parts.raft.status().leader !== this.nodeId, 2000);
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'leadership transfer failed');
        }
      }
    }
    this.stopped = true;
    clearInterval(this.tickTimer);
    await this.idle;
  }

  private bestSuccessor(): string | undefined {
    const st = this.parts.raft.status();
    let best: string | undefined;
    let bestMatch = -1;
    for (const v of st.voters) {
      if (v === this.nodeId) continue;
      const m = st.progress[v] ?? -1;
      if (m > bestMatch) {
        best = v;
        bestMatch = m;
      }
    }
    return best;
  }

  private async waitFor(cond: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new EhrError('TIMEOUT', `condition not met within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Runs the loop soon; coalesces many triggers into one pass. */
  private schedule(): void {
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
        this.schedule();
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
      } while (this.again && !this.stopped);
    } catch (err) {
      this.halt(err as Error);
    } finally {
      this.loopStartedAt = 0;
      this.loopStage = 'idle';
    }
  }

  /** Handles every pending Ready: persist, send, apply, advance. */
  private async drainReady(): Promise<void> {
    const raft = this.parts.raft;
    while (raft.hasReady()) {
      const rd = raft.ready();
      await this.handleReady(rd);
      raft.advance(rd);
      // The engine takes a configuration change on advance: only now does a removed member stop
      // counting as one, so only now can its connections be dropped.
      if (rd.committed.some((e) => e.type === 'config')) {
        const { voters, learners } = raft.status();
        this.logger.info({ voters, learners }, 'membership now');
        await this.parts.network.refreshMembership();
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
        this.schedule();
      }
    }
  }

  resumeConsensus(): void {
    this.paused = false;
    this.schedule();
  }

  /**
   * Catch-up sync: hands the engine entries a member served as committed, then persists and
   * applies them through the same Ready path as replicated ones. `prepare` runs with the loop
   * held, so a batch is trimmed, verified and executed against exactly the state it will be
   * applied to (the engine keeps running between batches, and replication may have applied some
   * of it meanwhile); the results it returns keep blocks from being executed twice.
   */
  async ingestWith(
    prepare: () => Promise<{ entries: RaftEntry[]; results: Map<string, BlockResult> } | null>,
  ): Promise<void> {
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

  /** Refused consensus messages per peer since the last warning (one line per peer a minute). */
  private readonly refusedFrom = new Map<string, { count: number; warnedAt: number }>();

  /**
   * A consensus message that does not decode or is out of range is dropped here: counted,
   * logged at warn once a minute per peer (with how many since), never handed to the engine.
   */
  private refusedConsensus(from: string, err: Error): void {
    const code = (err as EhrError).code;
    const reason =
      code === 'CONSENSUS_OUT_OF_RANGE' || /beyond/.test(err.message)
        ? 'out_of_range'
        : code === 'ENCODING_INVALID'
          ? 'malformed'
          : 'refused';
    this.parts.metrics.consensusRefused.inc(1, { reason });
    const seen = this.refusedFrom.get(from) ?? { count: 0, warnedAt: 0 };
    seen.count++;
    const now = Date.now();
    if (now - seen.warnedAt >= 60_000) {
      this.logger.warn(
        { peer: from, reason, err: err.message, refusedSinceLastLine: seen.count },
        'refused a consensus message from a member',
      );
      seen.count = 0;
      seen.warnedAt = now;
    }
    this.refusedFrom.set(from, seen);
  }

  private halt(err: Error): void {
    this.fatal = err;
    this.logger.fatal({ err: err.message, code: (err as EhrError).code }, 'consensus loop stopped');
    this.emit('fatal', err);
  }

  private async handleReady(rd: RaftReady): Promise<void> {
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

  private noteRole(): void {
    const st = this.parts.raft.status();
    const leader = st.role === 'leader';
    if (this.wasLeader && !leader) this.proposer.reset();
    this.wasLeader = leader;
    const m = this.parts.metrics;
    m.term.set(st.term);
    m.isLeader.set(leader ? 1 : 0);
    m.mempoolSize.set(this.mempool.size);
    m.mempoolBytes.set(this.mempool.byteSize);
  }

  private async applyEntry(e: RaftEntry): Promise<void> {
    const { store } = this.parts;
    if (e.index <= store.head().applied) return;
    if (e.type === 'config') {
      const change = this.parts.raft.applyConfig(e);
      this.logger.info(change, 'membership change committed');
      await store.setApplied(e.index);
      return;
    }
    if (e.type !== 'block') {
      await store.setApplied(e.index);
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
          {
            height: header.height,
          },
        );
      }
      // A committed block that this node computes differently means its state diverged:
      // stop rather than serve a forked state (applyBlock throws STATE_MISMATCH).
      result = await applyBlock(store.state, entry.block, entry.payloads, {
        prevStateHash: head.stateHash,
        verified: { has: (h) => this.mempool.has(h) },
      });
    }
    const erased = result.payloads.erased;
    const redactions = erased.length > 0 ? await this.redactionsFor(erased, e) : [];
    await store.commitBlock({
      blockBytes: entry.blockBytes,
      hash,
      height: header.height,
      stateHash: result.stateHash,
      time: header.time,
      receipts: result.receipts,
      writes: result.writes,
      payloads: new Map(
        [...entry.payloads].filter(
          ([h]) => result.payloads.referenced.includes(h) && !erased.includes(h),
        ),
      ),
      erased,
      raftIndex: e.index,
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
    const txs: string[] = [];
    const receipts: BlockEvent['receipts'] = [];
    const authors: string[] = [];
    for (const r of result.receipts) {
      txs.push(r.hash);
      receipts.push({ hash: r.hash, author: r.author, kind: r.kind, ok: r.ok, code: r.code });
      if (r.nonceConsumed && r.author) authors.push(r.author);
      this.mempool.remove(r.hash);
      this.tracker.set(r.hash, {
        status: 'committed',
        height: header.height,
        index: r.index,
        ok: r.ok,
        code: r.code,
        message: r.message,
      });
    }
    // Every node, not only the leader, drops what this block made impossible: other
    // transactions for a nonce it used, and those past their deadline by its time.
    this.markNonceUsed(await this.mempool.evictStale(authors));
    this.markExpired(this.mempool.evictExpired(header.time));
    const m = this.parts.metrics;
    m.height.set(header.height);
    m.committedTxs.inc(txs.length);
    if (result.consensusChanges.length > 0) this.emit('consensusChanges', result.consensusChanges);
    if (this.parts.raft.status().role === 'leader') {
      const note = encodeAnnouncement({ height: header.height, hash, stateHash: result.stateHash });
      void this.parts.network.publish(BLOCK_TOPIC, note).catch(() => {});
    }
    this.emit('block', {
      height: header.height,
      hash: hashHex,
      txs,
      time: header.time,
      receipts,
    } satisfies BlockEvent);
  }

  private async maybePropose(): Promise<void> {
    const st = this.parts.raft.status();
    if (!st.canPropose || this.stopped) return;
    const max = this.parts.config.consensus.maxInflightBlocks;
    while (this.proposer.inflightCount < max && this.mempool.size > 0) {
      this.loopStage = 'build';
      const { built, rejected } = await this.proposer.build(st.term);
      for (const r of rejected) {
        const p = this.mempool.remove(r.hash);
        this.tracker.set(r.hash, {
          status: 'rejected',
          code: r.code,
          message: r.message,
          final: FINAL_REFUSALS.includes(r.code),
          ...(p ? { expires: p.expires } : {}),
        });
        this.parts.metrics.rejectedTxs.inc(1, { code: r.code });
      }
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

  private async onGossipTx(
    from: string,
    bytes: Uint8Array,
  ): Promise<'accept' | 'reject' | 'ignore'> {
    let msg: { tx: Uint8Array; payloads: Map<string, Uint8Array> };
    try {
      msg = decodeTxMessage(bytes);
    } catch {
      return 'reject';
    }
    try {
      this.admitted(await this.mempool.add(msg.tx, this.now(), msg.payloads));
      this.schedule();
      return 'accept';
    } catch (err) {
      // Not admitted here: not relayed either (gossipsub forwards accepted messages only).
      const benign = [
        'DUPLICATE',
        'NONCE_PENDING',
        'NONCE_USED',
        'MEMPOOL_FULL',
        'BAD_NONCE',
        'EXPIRED',
      ];
      if (isEhrError(err) && benign.includes(err.code)) {
        return 'ignore';
      }
      this.logger.debug({ from, code: (err as EhrError).code }, 'rejected gossiped transaction');
      return 'reject';
    }
  }

  /**
   * The consensus log entries that carried bodies now erased, rewritten without them (same
   * index, term and type). A body erased in the block that brought it is in `current` itself.
   */
  private async redactionsFor(erased: string[], current: RaftEntry): Promise<RaftEntry[]> {
    const byIndex = new Map<number, RaftEntry>([[current.index, current]]);
    for (const h of erased) {
      const i = await this.parts.store.payloadEntryIndex(h);
      if (i === undefined || byIndex.has(i)) continue;
      const [stored] = await this.parts.store.raftEntries(i, i);
      if (stored) byIndex.set(i, stored);
    }
    const out: RaftEntry[] = [];
    for (const e of byIndex.values()) {
      if (e.type !== 'block') continue;
      const be = decodeBlockEntry(e.data);
      const kept = [...be.payloads].filter(([h]) => !erased.includes(h));
      if (kept.length === be.payloads.size) continue;
      const data = encodeBlockEntry(
        be.blockBytes,
        kept.map(([, body]) => body),
      );
      out.push({ ...e, data });
    }
    return out;
  }

  /**
   * Highest block height announced by the leader of `term` (0 until one is heard). Only the
   * current term's leader is believed, a claim from an earlier term does not count, and a claim
   * catch-up sync finds nothing behind is dropped (settleAnnounced): a member cannot park this
   * node's view of the network beyond what it can check.
   */
  private announced = { height: 0, term: -1 };

  private async onBlockAnnounced(from: string, bytes: Uint8Array): Promise<Verdict> {
    const head = this.parts.store.head();
    const st = this.parts.raft.status();
    const known = this.announced.term === st.term ? this.announced.height : 0;
    const j = judgeAnnouncement(bytes, head, known);
    if (j.contradicts) {
      this.logger.warn(
        { from, height: j.announcement!.height, mine: toHex(head.hash) },
        "a block announcement contradicts this node's block at that height",
      );
    }
    if (j.verdict !== 'accept') return j.verdict;
    // The leader floods its announcements to every member itself: a copy relayed by anyone else
    // is not taken (nor relayed further).
    if (st.leader === null || from !== st.leader || st.leader === this.nodeId) {
      this.parts.metrics.announcementsIgnored.inc(1, { reason: 'not_from_leader' });
      return 'ignore';
    }
    this.announced = { height: j.announcement!.height, term: st.term };
    this.emit('announced', this.announced.height);
    return 'accept';
  }

  /**
   * Catch-up sync looked and found no member ahead by more than its threshold: an announced
   * height above what this node holds was not true (or is already applied); forget it.
   */
  settleAnnounced(): void {
    const height = this.parts.store.head().height;
    if (this.announced.height > height) {
      this.logger.info(
        { announced: this.announced.height, height },
        'no member serves the announced height; dropping the claim',
      );
      this.parts.metrics.announcementsIgnored.inc(1, { reason: 'unconfirmed' });
      this.announced = { height, term: this.announced.term };
    }
  }

  /** The announced height, if the current term's leader made it. */
  private announcedHeight(term: number): number {
    return this.announced.term === term ? this.announced.height : 0;
  }

  private forwarding = false;
  private readonly forwardedAt = new Map<string, number>();

  /** Sends transactions pending here for a while straight to the leader. */
  private async forwardPending(): Promise<void> {
    const st = this.parts.raft.status();
    if (this.forwarding || st.role === 'leader' || !st.leader || this.mempool.size === 0) return;
    const now = this.now();
    const batch: { hash: string; msg: Uint8Array }[] = [];
    // One request stays within a block's content (a transaction with the largest body fits).
    let bytes = 0;
    for (const p of this.mempool.all()) {
      if (now - p.addedAt < FORWARD_AFTER_MS) break; // oldest first: the rest are younger
      if (now - (this.forwardedAt.get(p.hash) ?? 0) < FORWARD_EVERY_MS) continue;
      if (batch.length > 0 && bytes + p.size > this.parts.wire.blockContentBytes) break;
      batch.push({ hash: p.hash, msg: encodeTxMessage(p.bytes, [...p.payloads.values()]) });
      bytes += p.size;
      if (batch.length >= FORWARD_BATCH) break;
    }
    if (this.forwardedAt.size > 2 * FORWARD_BATCH + this.mempool.size) {
      for (const h of this.forwardedAt.keys()) if (!this.mempool.has(h)) this.forwardedAt.delete(h);
    }
    if (batch.length === 0) return;
    this.forwarding = true;
    // An attempt counts, failed or not: a forward that timed out (an 8 MiB document to a busy
    // leader) waits FORWARD_EVERY_MS like one that arrived, instead of going again every second.
    for (const b of batch) this.forwardedAt.set(b.hash, now);
    try {
      await this.parts.network.request(
        st.leader,
        TX_FORWARD,
        encode({ txs: batch.map((b) => b.msg) }),
        5000,
      );
      this.logger.debug({ to: st.leader, txs: batch.length }, 'forwarded pending transactions');
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'forwarding to the leader failed');
    } finally {
      this.forwarding = false;
    }
  }

  /** The leader's side: admits forwarded transactions it does not hold yet. */
  private async onForwarded(from: string, bytes: Uint8Array): Promise<Uint8Array> {
    const m = expectMap(decode(bytes), 'tx-forward');
    expectKeys(m, ['txs'], 'tx-forward');
    let admitted = 0;
    for (const [i, raw] of expectArray(m['txs'], 'tx-forward.txs').entries()) {
      if (i >= FORWARD_BATCH) break;
      try {
        const msg = decodeTxMessage(expectBytes(raw, `tx-forward.txs[${i}]`));
        const hash = toHex(txHash(msg.tx));
        if (this.mempool.has(hash) || this.tracker.get(hash)?.status === 'committed') continue;
        this.admitted(await this.mempool.add(msg.tx, this.now(), msg.payloads));
        admitted++;
      } catch (err) {
        // Already committed (nonce used), full, or invalid: the submitter's node reports it.
        this.logger.debug({ from, code: (err as EhrError).code }, 'forwarded transaction refused');
      }
    }
    if (admitted > 0) this.schedule();
    return encode({ admitted });
  }

  /** Records an admission: pending, and the transaction it replaced (if any) says by what. */
  private admitted(p: PendingTx & { replaced?: PendingTx }): void {
    this.tracker.set(p.hash, { status: 'pending', expires: p.expires });
    if (p.replaced) {
      this.tracker.set(p.replaced.hash, {
        status: 'pending',
        expires: p.replaced.expires,
        replacedBy: p.hash,
      });
    }
  }

  /** Pending transactions dropped because a committed transaction used their nonce. */
  private markNonceUsed(gone: PendingTx[]): void {
    for (const p of gone) {
      if (this.tracker.get(p.hash)?.status === 'committed') continue;
      this.tracker.set(p.hash, {
        status: 'rejected',
        code: 'NONCE_USED',
        message: `nonce ${p.tx.nonce} was used by another transaction of this account; this one can never commit: sign it again with the account's next nonce`,
        final: true,
        expires: p.expires,
      });
    }
  }

  private markExpired(gone: PendingTx[]): void {
    for (const p of gone) {
      if (this.tracker.get(p.hash)?.status === 'committed') continue;
      this.tracker.set(p.hash, {
        status: 'expired',
        code: 'EXPIRED',
        message: `not included before its deadline ${new Date(p.expires).toISOString()}: sign it again`,
        expires: p.expires,
      });
    }
  }

  /**
   * A transaction's status as this node knows it: the chain first (what committed survives
   * restarts and is the same on every node), then what this node saw; `final` says whether
   * it can still change. Undefined: never seen here.
   */
  async txStatus(hash: string): Promise<TxStatusView | undefined> {
    const r = await this.parts.store.receipt(fromHex(hash));
    if (r) return { status: 'committed', ...r, final: true };
    const s = this.tracker.get(hash);
    return s && this.view(s);
  }

  /** A tracked status with whether it can still change, judged by the committed head's time. */
  private view(s: TxStatus): TxStatusView {
    const headTime = this.parts.store.head().time;
    switch (s.status) {
      case 'committed':
        return { ...s, final: true };
      case 'pending':
        return {
          ...s,
          final: false,
          ...(s.expires !== undefined ? { canCommitUntil: s.expires } : {}),
        };
      case 'expired':
        // Final once a committed block is past the deadline: block times never go back.
        return { ...s, final: headTime > s.expires };
      case 'rejected': {
        const final = s.final || (s.expires !== undefined && headTime > s.expires);
        return {
          ...s,
          final,
          ...(!final && s.expires !== undefined ? { canCommitUntil: s.expires } : {}),
        };
      }
    }
  }

  /**
   * Submits a transaction. The rules run first against the committed state (so a transaction
   * they refuse is answered at once and never admitted or gossiped); then `async` returns once
   * it is in the mempool and gossiped, `sync` the same, `commit` waits until its status is
   * final (committed, rejected, expired) or `timeoutMs` passes (TX_TIMEOUT, which says until
   * when it can still commit). An exact resubmission answers the original's status.
   */
  async submit(
    tx: Uint8Array,
    payloads: Uint8Array[],
    mode: SubmitMode,
    timeoutMs = 10_000,
  ): Promise<{ hash: string; status: TxStatusView }> {
    if (this.fatal) {
      throw new EhrError('NODE_HALTED', `this node stopped processing: ${this.fatal.message}`);
    }
    const bodies = new Map<string, Uint8Array>();
    for (const p of payloads) bodies.set(toHex(sha256(p)), p);
    const hash = toHex(txHash(tx));
    const known = await this.txStatus(hash);
    if (known?.status === 'committed') return { hash, status: { ...known, duplicate: true } };
    if (known && known.status !== 'pending' && known.final) return { hash, status: known };
    if (!this.mempool.has(hash)) {
      const checked = this.mempool.precheck(tx);
      const refused = await this.dryRun(tx, bodies, hash, checked.tx);
      if (refused) return { hash, status: refused };
      this.admitted(await this.mempool.add(tx, this.now(), bodies, checked));
      void this.parts.network.publish(TX_TOPIC, encodeTxMessage(tx, payloads)).catch((err) => {
        this.logger.debug({ err: (err as Error).message }, 'gossip publish failed');
      });
      this.schedule();
    }
    const started = performance.now();
    const pending = this.mempool.get(hash);
    if (mode !== 'commit') return { hash, status: (await this.txStatus(hash))! };
    await this.tracker.wait(hash, timeoutMs, pending?.expires);
    this.parts.metrics.commitLatency.observe((performance.now() - started) / 1000);
    return { hash, status: (await this.txStatus(hash))! };
  }

  /**
   * Runs the rules for one transaction against committed state. Returns its refusal (not
   * admitted, not relayed), or null when it may go on (applies, or waits for an earlier nonce).
   */
  private async dryRun(
    tx: Uint8Array,
    payloads: Map<string, Uint8Array>,
    hash: string,
    decoded: SignedTx,
  ): Promise<TxStatusView | null> {
    const { expires, nonce } = decoded;
    const head = this.parts.store.head();
    const r = await checkTx(new Overlay(this.parts.store.state), tx, {
      height: head.height + 1,
      time: Math.max(this.now(), head.time),
      payloads,
      verified: { has: (h) => h === hash },
    });
    if (r.ok) return null;
    const code = r.code ?? 'REJECTED';
    if (code === 'BAD_NONCE') {
      // Authentication failures carry no author in the receipt: take it from the transaction.
      const next = await nextNonce(this.parts.store.state, toHex(decoded.author));
      // Ahead of the chain: it waits for the author's earlier transactions.
      if (nonce > next) return null;
      const status: TxStatus = {
        status: 'rejected',
        code: 'NONCE_USED',
        message: `nonce ${nonce} was already used (the account's next nonce is ${next}): sign it again with nonce ${next}`,
        final: true,
      };
      this.tracker.set(hash, status);
      return this.view(status);
    }
    const status: TxStatus = {
      status: 'rejected',
      code,
      message: r.message ?? '',
      final: FINAL_REFUSALS.includes(code),
      ...(expires !== undefined ? { expires } : {}),
    };
    this.tracker.set(hash, status);
    return this.view(status);
  }

  status() {
    const st = this.parts.raft.status();
    const head = this.parts.store.head();
    return {
      name: this.parts.config.name,
      nodeId: this.nodeId,
      chainId: this.parts.chainId,
      role: st.role,
      term: st.term,
      leader: st.leader,
      height: head.height,
      hash: toHex(head.hash),
      stateHash: toHex(head.stateHash),
      time: head.time,
      // Catching up: a catch-up sync runs, or applying trails the commit index it knows of.
      // Behind what consensus says is committed, syncing, or more than a couple of blocks
      // below what the leader announced.
      catchingUp:
        this.syncStatus?.active === true ||
        st.applied < st.commit ||
        this.announcedHeight(st.term) > head.height + 2,
      networkHeight: Math.max(this.announcedHeight(st.term), head.height),
      commitIndex: st.commit,
      sync: this.syncStatus,
      peers: this.parts.network.peers().length,
      validators: st.voters,
      observers: st.learners,
      mempool: { txs: this.mempool.size, bytes: this.mempool.byteSize },
      halted: this.fatal ? this.fatal.message : null,
      loop: {
        stage: this.loopStage,
        busyMs: this.loopStartedAt ? Date.now() - this.loopStartedAt : 0,
        inflightBlocks: this.proposer.inflightCount,
        /** Held by catch-up sync (no ticks, no consensus messages). */
        paused: this.paused,
      },
    };
  }

  isHalted(): Error | undefined {
    return this.fatal;
  }
}

export function encodeTxMessage(tx: Uint8Array, payloads: Uint8Array[]): Uint8Array {
  return encode({ tx, payloads });
}

export function decodeTxMessage(bytes: Uint8Array): {
  tx: Uint8Array;
  payloads: Map<string, Uint8Array>;
} {
  const m = expectMap(decode(bytes), 'msg');
  expectKeys(m, ['payloads', 'tx'], 'msg');
  const payloads = new Map<string, Uint8Array>();
  for (const [i, p] of expectArray(m['payloads'], 'msg.payloads').entries()) {
    const body = expectBytes(p, `msg.payloads[${i}]`);
    payloads.set(toHex(sha256(body)), body);
  }
  return { tx: expectBytes(m['tx'], 'msg.tx'), payloads };
}
