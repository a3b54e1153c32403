/**
 * Transaction intake: everything between a signed transaction arriving and the block that
 * settles it. Submissions are dry-run against committed state (what the rules refuse is
 * answered at once, never admitted or gossiped), admitted to the mempool, gossiped, and
 * forwarded to the leader when they wait too long; gossip from other members is admitted the
 * same way. Gossip is coalesced: what was admitted within one event-loop turn goes out as one
 * message (under load, many submissions finish in the same turn; alone, one goes out at once),
 * so the per-message cost of the p2p stack is paid once per batch. The tracker says what became of each; a block's receipts and the leader's refusals
 * come in from the consensus loop (`settled`, `refused`), and the loop is woken (`wake`) when
 * there is something to propose. Owns the mempool and the tracker.
 */
import {
  decode,
  EhrError,
  encode,
  expectArray,
  expectBytes,
  expectKeys,
  expectMap,
  fromHex,
  isEhrError,
  type SignedTx,
  type SubmitResult,
  sha256,
  type TxStatus,
  type TxStatusView,
  toHex,
  txHash,
} from '@ehr/core';
import { checkTx, nextNonce, Overlay, type TxDecoder, type WireLimits } from '@ehr/ledger';
import type { Logger } from './logger.ts';
import { Mempool, type MempoolLimits, type PendingTx } from './mempool.ts';
import type { NodeMetrics } from './metrics.ts';
import type { Network, NodeStore } from './ports.ts';
import {
  decodeTxGossip,
  decodeTxMessage,
  encodeTxBatch,
  encodeTxMessage,
  type TxMessage,
} from './tx-message.ts';
import { refusal, statusView } from './tx-status.ts';
import { TxTracker } from './tx-tracker.ts';

export type SubmitMode = 'async' | 'sync' | 'commit';

export const TX_TOPIC = 'tx';
/**
 * Direct forwarding of pending transactions to the leader: gossip is fire-and-forget, so a
 * transaction gossiped while this node was cut off (or that the leader dropped) would wait here
 * until it expires. Pending longer than FORWARD_AFTER_MS, it goes straight to the leader, again
 * every FORWARD_EVERY_MS while it stays pending.
 */
export const TX_FORWARD = 'tx-forward';
const FORWARD_AFTER_MS = 3000;
const FORWARD_EVERY_MS = 10_000;
/**
 * A transaction whose bodies weigh more than this (a scan, a PDF) is not gossiped: gossipsub
 * sends every message to every mesh peer from every node that accepts it, so one 8 MiB document
 * crossed the network about sixteen times (and was encrypted, hashed and checked each time)
 * before the block carried it once more to every follower. It goes straight to the leader
 * instead, at once, and again to whoever leads while it stays pending; the block brings it to
 * the others.
 */
export const GOSSIP_MAX_BODY_BYTES = 64 * 1024;
/** A forward may take this long plus one millisecond per FORWARD_BYTES_PER_MS bytes. */
const FORWARD_TIMEOUT_MS = 5000;
const FORWARD_BYTES_PER_MS = 1024;
const FORWARD_BATCH = 256;
/** At most this many transactions in one gossip message. */
const GOSSIP_BATCH = 256;
/** A received batch yields to the event loop after this many transactions. */
const GOSSIP_YIELD_EVERY = 16;
const FORWARD_CHECK_MS = 1000;
/** How often what the chain moved past, and what passed its deadline, leaves the mempool. */
const HYGIENE_MS = 5000;
/** Gossip refusals that say nothing bad of the relay (it was ahead, behind or full). */
const BENIGN_GOSSIP_REFUSALS = [
  'DUPLICATE',
  'NONCE_PENDING',
  'NONCE_USED',
  'MEMPOOL_FULL',
  'BAD_NONCE',
  'EXPIRED',
];

function bodyBytes(payloads: Uint8Array[]): number {
  return payloads.reduce((n, p) => n + p.length, 0);
}

/** One transaction of an applied block, as intake needs it. */
export interface SettledTx {
  hash: string;
  index: number;
  ok: boolean;
  code: string | null;
  message: string | null;
  /** The author whose nonce the transaction used (null when it never authenticated). */
  nonceOf: string | null;
}

export interface TxIntakeDeps {
  chainId: string;
  limits: MempoolLimits;
  wire: Pick<WireLimits, 'blockContentBytes'>;
  store: Pick<NodeStore, 'state' | 'head' | 'receipt'>;
  network: Pick<Network, 'publish' | 'subscribe' | 'handle' | 'request'>;
  /** Who leads right now, as this node's engine sees it. */
  leadership(): { leader: string | null; leading: boolean };
  /** Something arrived to propose: run the consensus loop soon. */
  wake(): void;
  /** Set once the consensus loop stopped: submissions are refused. */
  halted(): Error | undefined;
  /**
   * Resolves once this node has applied what the leader had committed (the read barrier).
   * Asked only before refusing: what another node acknowledged a moment ago (the author's
   * sign-up, the consent a revoke undoes) may not be applied here yet.
   */
  caughtUp?: () => Promise<void>;
  logger: Logger;
  metrics: NodeMetrics;
  now?: () => number;
  /** How transactions are decoded (default core's decodeTx; tests count calls). */
  decodeTx?: TxDecoder;
  /**
   * Told the hashes of each transaction and body that went out or came in by gossip: what the
   * other members most likely hold, so a leader's block entries can leave them out.
   */
  gossiped?: { add(hashHex: string): void };
  /** Bound of the transaction status cache, bytes (config caches.txStatusBytes). */
  trackerBytes?: number;
}

export class TxIntake {
  readonly mempool: Mempool;
  readonly tracker: TxTracker;
  private readonly deps: TxIntakeDeps;
  private readonly now: () => number;
  private timers: NodeJS.Timeout[] = [];
  private forwarding = false;
  /** When each pending transaction was last forwarded, and to which leader. */
  private readonly forwardedAt = new Map<string, { at: number; to: string }>();
  /** Admitted here, waiting for the end of this event-loop turn to be gossiped together. */
  private outbox: Uint8Array[] = [];
  private outboxBytes = 0;
  private flushTimer: NodeJS.Immediate | undefined;

  constructor(deps: TxIntakeDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.tracker = new TxTracker(deps.trackerBytes);
    this.mempool = new Mempool(
      deps.chainId,
      deps.limits,
      (author) => nextNonce(deps.store.state, author),
      deps.decodeTx ? { decodeTx: deps.decodeTx } : {},
    );
  }

  start(): void {
    const { network } = this.deps;
    network.subscribe(TX_TOPIC, (from, bytes) => this.onGossip(from, bytes));
    network.handle(TX_FORWARD, (from, bytes) => this.onForwarded(from, bytes));
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref?.();
      this.timers.push(t);
    };
    every(FORWARD_CHECK_MS, () => void this.forwardPending());
    // Drop what the chain moved past, and what waited too long to be included (refused by the
    // leader, or its nonce gap never closed).
    every(HYGIENE_MS, () => {
      void this.mempool
        .evictStale()
        .then((gone) => this.markNonceUsed(gone))
        .catch(() => {});
      // Past its deadline by this node's clock: no honest leader includes it any more. The
      // status turns final once a committed block is past the deadline (txStatus).
      this.markExpired(this.mempool.evictExpired(this.now()));
    });
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.flushGossip();
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
  ): Promise<SubmitResult> {
    const fatal = this.deps.halted();
    if (fatal) {
      throw new EhrError('NODE_HALTED', `this node stopped processing: ${fatal.message}`);
    }
    const bodies = new Map<string, Uint8Array>();
    for (const p of payloads) bodies.set(toHex(sha256(p)), p);
    const hash = toHex(txHash(tx));
    const known = await this.txStatus(hash);
    if (known?.status === 'committed') return { hash, status: { ...known, duplicate: true } };
    if (known && known.status !== 'pending' && known.final) return { hash, status: known };
    if (!this.mempool.has(hash)) {
      // Decoded, hashed and verified once here; the dry run, the block and its application
      // take the decoded form from the mempool.
      const checked = this.mempool.precheck(tx, hash);
      let refused = await this.dryRun(tx, bodies, hash, checked.tx);
      if (refused && this.deps.caughtUp) {
        // Judged against this node's state, which may trail the leader's: catch up, ask again.
        const behind = await this.deps.caughtUp().then(
          () => true,
          () => false,
        );
        if (behind) refused = await this.dryRun(tx, bodies, hash, checked.tx);
      }
      if (refused) return { hash, status: refused };
      this.admitted(await this.mempool.add(tx, this.now(), bodies, checked));
      if (bodyBytes(payloads) <= GOSSIP_MAX_BODY_BYTES) {
        this.gossip(encodeTxMessage(tx, payloads));
        this.noteGossiped(hash, bodies);
      } else void this.forwardPending();
      this.deps.wake();
    }
    const started = performance.now();
    const pending = this.mempool.get(hash);
    if (mode !== 'commit') return { hash, status: (await this.txStatus(hash))! };
    await this.tracker.wait(hash, timeoutMs, pending?.expires);
    this.deps.metrics.commitLatency.observe((performance.now() - started) / 1000);
    return { hash, status: (await this.txStatus(hash))! };
  }

  /**
   * A transaction's status as this node knows it: the chain first (what committed survives
   * restarts and is the same on every node), then what this node saw; `final` says whether
   * it can still change. Undefined: never seen here.
   */
  async txStatus(hash: string): Promise<TxStatusView | undefined> {
    const r = await this.deps.store.receipt(fromHex(hash));
    if (r) return { status: 'committed', ...r, final: true };
    const s = this.tracker.get(hash);
    return s && this.view(s);
  }

  /** The account's next nonce counting what waits here (for transactions this node signs). */
  nextNonceFor(author: string): Promise<number> {
    return this.mempool.nextNonceFor(author);
  }

  /**
   * A block was applied. In block order: each transaction leaves the mempool with its
   * committed status; then what the block made impossible goes too (other transactions for a
   * nonce it used, those past their deadline by its time) - on every node, not only the leader.
   */
  async settled(block: { height: number; time: number; txs: SettledTx[] }): Promise<void> {
    const authors: string[] = [];
    for (const r of block.txs) {
      if (r.nonceOf) authors.push(r.nonceOf);
      this.mempool.remove(r.hash);
      this.tracker.set(r.hash, {
        status: 'committed',
        height: block.height,
        index: r.index,
        ok: r.ok,
        code: r.code,
        message: r.message,
      });
    }
    this.markNonceUsed(await this.mempool.evictStale(authors));
    this.markExpired(this.mempool.evictExpired(block.time));
  }

  /** The leader's rules refused these while building a block: they leave the mempool. */
  refused(rejected: readonly { hash: string; code: string; message: string }[]): void {
    for (const r of rejected) {
      const p = this.mempool.remove(r.hash);
      this.tracker.set(r.hash, refusal(r.code, r.message, p?.expires));
      this.deps.metrics.rejectedTxs.inc(1, { code: r.code });
    }
  }

  private view(s: TxStatus): TxStatusView {
    return statusView(s, this.deps.store.head().time);
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
    const { store } = this.deps;
    const head = store.head();
    const r = await checkTx(new Overlay(store.state), tx, {
      height: head.height + 1,
      time: Math.max(this.now(), head.time),
      payloads,
      hash,
      verified: { has: (h) => h === hash, decoded: (h) => (h === hash ? decoded : undefined) },
    });
    if (r.ok) return null;
    const code = r.code ?? 'REJECTED';
    let status: TxStatus;
    if (code === 'BAD_NONCE') {
      // Authentication failures carry no author in the receipt: take it from the transaction.
      const next = await nextNonce(store.state, toHex(decoded.author));
      // Ahead of the chain: it waits for the author's earlier transactions.
      if (decoded.nonce > next) return null;
      status = {
        status: 'rejected',
        code: 'NONCE_USED',
        message: `nonce ${decoded.nonce} was already used (the account's next nonce is ${next}): sign it again with nonce ${next}`,
        final: true,
      };
    } else {
      status = refusal(code, r.message ?? '', decoded.expires);
    }
    this.tracker.set(hash, status);
    return this.view(status);
  }

  private noteGossiped(hash: string, bodies: ReadonlyMap<string, Uint8Array>): void {
    const g = this.deps.gossiped;
    if (!g) return;
    g.add(hash);
    for (const h of bodies.keys()) g.add(h);
  }

  /**
   * Queues one admitted transaction's message for gossip; everything queued within this
   * event-loop turn goes out together (within a block's content bytes and GOSSIP_BATCH).
   */
  private gossip(msg: Uint8Array): void {
    if (
      this.outbox.length > 0 &&
      (this.outbox.length >= GOSSIP_BATCH ||
        this.outboxBytes + msg.length > this.deps.wire.blockContentBytes)
    ) {
      this.flushGossip();
    }
    this.outbox.push(msg);
    this.outboxBytes += msg.length;
    this.flushTimer ??= setImmediate(() => this.flushGossip());
  }

  private flushGossip(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.outbox;
    if (batch.length === 0) return;
    this.outbox = [];
    this.outboxBytes = 0;
    // One transaction keeps the single-message shape.
    const bytes = batch.length === 1 ? batch[0]! : encodeTxBatch(batch);
    void this.deps.network.publish(TX_TOPIC, bytes).catch((err) => {
      this.deps.logger.debug({ err: (err as Error).message }, 'gossip publish failed');
    });
  }

  /**
   * A gossiped transaction or batch. Relayed ('accept') when something in it was admitted here;
   * 'reject' (not relayed, the relay is suspect) when it does not decode or anything in it fails
   * for a reason no honest relay would send on; otherwise 'ignore' (already held, committed,
   * or refused for a benign reason: the relay was ahead, behind or full).
   */
  private async onGossip(from: string, bytes: Uint8Array): Promise<'accept' | 'reject' | 'ignore'> {
    let items: (TxMessage | Error)[];
    try {
      items = decodeTxGossip(bytes, GOSSIP_BATCH);
    } catch {
      return 'reject';
    }
    let admitted = 0;
    let bad = 0;
    for (const [i, msg] of items.entries()) {
      // A big batch is many signature checks: let timers and I/O (the consensus tick) run.
      if (i > 0 && i % GOSSIP_YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
      if (msg instanceof Error) {
        bad++;
        continue;
      }
      const hash = toHex(txHash(msg.tx));
      // Held or settled already: not decoded or verified again.
      if (this.mempool.has(hash) || this.tracker.get(hash)?.status === 'committed') continue;
      try {
        const checked = this.mempool.precheck(msg.tx, hash);
        this.admitted(await this.mempool.add(msg.tx, this.now(), msg.payloads, checked));
        this.noteGossiped(hash, msg.payloads);
        admitted++;
      } catch (err) {
        if (isEhrError(err) && BENIGN_GOSSIP_REFUSALS.includes(err.code)) continue;
        bad++;
        this.deps.logger.debug(
          { from, code: (err as EhrError).code },
          'rejected gossiped transaction',
        );
      }
    }
    if (admitted > 0) this.deps.wake();
    // Not admitted here: not relayed either (gossipsub forwards accepted messages only).
    return bad > 0 ? 'reject' : admitted > 0 ? 'accept' : 'ignore';
  }

  /** Sends transactions pending here for a while straight to the leader. */
  private async forwardPending(): Promise<void> {
    const { leader, leading } = this.deps.leadership();
    if (this.forwarding || leading || !leader || this.mempool.size === 0) return;
    const now = this.now();
    const batch: { hash: string; msg: Uint8Array }[] = [];
    // One request stays within a block's content (a transaction with the largest body fits).
    let bytes = 0;
    for (const p of this.mempool.all()) {
      // Gossiped ones after a while; those too large to gossip at once.
      const large = p.size - p.bytes.length > GOSSIP_MAX_BODY_BYTES;
      if (!large && now - p.addedAt < FORWARD_AFTER_MS) continue;
      const last = this.forwardedAt.get(p.hash);
      if (last && last.to === leader && now - last.at < FORWARD_EVERY_MS) continue;
      if (batch.length > 0 && bytes + p.size > this.deps.wire.blockContentBytes) continue;
      batch.push({ hash: p.hash, msg: encodeTxMessage(p.bytes, [...p.payloads.values()]) });
      bytes += p.size;
      if (batch.length >= FORWARD_BATCH) break;
    }
    if (this.forwardedAt.size > 2 * FORWARD_BATCH + this.mempool.size) {
      for (const h of this.forwardedAt.keys()) if (!this.mempool.has(h)) this.forwardedAt.delete(h);
    }
    if (batch.length === 0) return;
    this.forwarding = true;
    // Marked before trying: a failed forward (an 8 MiB document to a busy leader) also waits
    // FORWARD_EVERY_MS, instead of every follower resending it every second.
    for (const b of batch) this.forwardedAt.set(b.hash, { at: now, to: leader });
    try {
      const msg = encodeTxBatch(batch.map((b) => b.msg));
      await this.deps.network.request(
        leader,
        TX_FORWARD,
        msg,
        FORWARD_TIMEOUT_MS + Math.ceil(msg.length / FORWARD_BYTES_PER_MS),
      );
      this.deps.logger.debug({ to: leader, txs: batch.length }, 'forwarded pending transactions');
    } catch (err) {
      // Tried again every FORWARD_EVERY_MS (or at once to a new leader) until it commits or
      // passes its deadline: never longer.
      this.deps.metrics.forwardFailures.inc(1);
      this.deps.logger.warn(
        { to: leader, txs: batch.length, bytes, err: (err as Error).message },
        'forwarding pending transactions to the leader failed; retrying later',
      );
    } finally {
      this.forwarding = false;
    }
    // More waiting (a second large document submitted here meanwhile): go on at once.
    if (this.timers.length > 0) setImmediate(() => void this.forwardPending());
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
        const checked = this.mempool.precheck(msg.tx, hash);
        this.admitted(await this.mempool.add(msg.tx, this.now(), msg.payloads, checked));
        admitted++;
      } catch (err) {
        // Already committed (nonce used), full, or invalid: the submitter's node reports it.
        this.deps.logger.debug(
          { from, code: (err as EhrError).code },
          'forwarded transaction refused',
        );
      }
    }
    if (admitted > 0) this.deps.wake();
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
}
