/**
 * Mempool: verified transactions waiting for a block, ordered per account by nonce.
 * Admission checks what can be checked without executing (shape, size, chain id, signature,
 * deadline, nonce window, duplicates, limits); full rule checks happen when the leader builds a
 * block. Every refusal is an EhrError whose code and message go back to the submitter.
 *
 * One transaction per account and nonce. A second one for the same slot replaces the first if
 * its deadline is later (the author's newer word: a revoke signed after a share that timed out
 * takes the share's place), so every node converges on the same choice; only one of them can
 * ever commit, since a nonce is used once.
 */
import { EhrError, type SignedTx, toHex, txHash } from '@ehr/core';
import { checkTxSignature, decodeForChain, type TxDecoder } from '@ehr/ledger';

export interface MempoolLimits {
  maxTxs: number;
  maxBytes: number;
  /** Max pending transactions per account; also the width of the accepted nonce window. */
  maxPerAccount: number;
  /** Largest encoded transaction accepted. */
  maxTxBytes: number;
  /** Largest sum of body bytes one transaction may carry (wireLimits().txBodyBytes). */
  maxBodyBytes?: number;
}

/** The latest deadline admitted, from now: keeps "can still commit until" a short promise. */
export const MAX_TX_LIFETIME_MS = 15 * 60_000;

export interface PendingTx {
  hash: string;
  bytes: Uint8Array;
  tx: SignedTx;
  author: string;
  addedAt: number;
  /** The transaction's deadline (block time, ms); legacy transactions without one: Infinity. */
  expires: number;
  /** Payload bodies (sealed health data) travelling with the transaction, by hash hex. */
  payloads: Map<string, Uint8Array>;
  /** Bytes held: transaction plus payload bodies. */
  size: number;
}

/** Returns the next nonce the chain expects from an account (committed state). */
export type NonceSource = (authorHex: string) => Promise<number>;

export class Mempool {
  private readonly byHash = new Map<string, PendingTx>();
  /** author -> nonce -> tx */
  private readonly byAccount = new Map<string, Map<number, PendingTx>>();
  private bytes = 0;
  private readonly limits: MempoolLimits;
  private readonly chainId: string;
  private readonly nextNonce: NonceSource;
  private readonly decodeTx: { decode?: TxDecoder };

  /** `opts.decodeTx`: how transactions are decoded (core's decodeTx; tests count calls). */
  constructor(
    chainId: string,
    limits: MempoolLimits,
    nextNonce: NonceSource,
    opts: { decodeTx?: TxDecoder } = {},
  ) {
    this.chainId = chainId;
    this.limits = limits;
    this.nextNonce = nextNonce;
    this.decodeTx = opts.decodeTx ? { decode: opts.decodeTx } : {};
  }

  get size(): number {
    return this.byHash.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  has(hash: string): boolean {
    return this.byHash.has(hash);
  }

  /**
   * Stateless checks shared by admission and gossip validation. Throws on failure. `hash`: the
   * transaction's hash hex, if the caller computed it already (of exactly these bytes).
   */
  precheck(bytes: Uint8Array, hash?: string): { tx: SignedTx; hash: string } {
    // The ledger's own checks, so admission refuses for the reasons a block would.
    const tx = decodeForChain(
      bytes,
      { chainId: this.chainId, maxTxBytes: this.limits.maxTxBytes },
      this.decodeTx,
    );
    checkTxSignature(tx);
    return { tx, hash: hash ?? toHex(txHash(bytes)) };
  }

  /**
   * Admits a transaction or throws a coded error saying why not. `replaced`: the pending
   * transaction it took the place of (same account and nonce, earlier deadline).
   */
  async add(
    bytes: Uint8Array,
    now: number,
    payloads: Map<string, Uint8Array> = new Map(),
    /** precheck(bytes), if the caller already ran it (saves a second signature check). */
    checked?: { tx: SignedTx; hash: string },
  ): Promise<PendingTx & { replaced?: PendingTx }> {
    const { tx, hash } = checked ?? this.precheck(bytes);
    if (this.byHash.has(hash)) {
      throw new EhrError('DUPLICATE', `transaction ${hash} is already pending`, { hash });
    }
    if (tx.expires === undefined) {
      throw new EhrError(
        'DEADLINE_REQUIRED',
        'transaction has no deadline (`expires`): sign it again with a client that sets one',
        {},
      );
    }
    if (tx.expires < now) {
      throw new EhrError(
        'EXPIRED',
        `transaction expired at ${new Date(tx.expires).toISOString()}: sign it again`,
        { expires: tx.expires, now },
      );
    }
    if (tx.expires > now + MAX_TX_LIFETIME_MS) {
      throw new EhrError(
        'DEADLINE_TOO_FAR',
        `transaction deadline is ${Math.round((tx.expires - now) / 1000)} s away; the limit is ${MAX_TX_LIFETIME_MS / 1000} s`,
        { expires: tx.expires, now, maxMs: MAX_TX_LIFETIME_MS },
      );
    }
    const author = toHex(tx.author);
    const expected = await this.nextNonce(author);
    if (tx.nonce < expected) {
      throw new EhrError(
        'NONCE_USED',
        `nonce ${tx.nonce} was already used; the account's next nonce is ${expected}`,
        { nonce: tx.nonce, expected },
      );
    }
    if (tx.nonce >= expected + this.limits.maxPerAccount) {
      throw new EhrError(
        'BAD_NONCE',
        `nonce ${tx.nonce} is too far ahead (next is ${expected}, window ${this.limits.maxPerAccount})`,
        { nonce: tx.nonce, expected, window: this.limits.maxPerAccount },
      );
    }
    const account = this.byAccount.get(author) ?? new Map<number, PendingTx>();
    const clash = account.get(tx.nonce);
    if (clash && clash.expires >= tx.expires) {
      throw new EhrError(
        'NONCE_PENDING',
        `account already has pending transaction ${clash.hash} with nonce ${tx.nonce} and a deadline no earlier (${new Date(clash.expires).toISOString()}): wait until it commits or expires`,
        { nonce: tx.nonce, pending: clash.hash, expires: clash.expires },
      );
    }
    if (!clash && account.size >= this.limits.maxPerAccount) {
      throw new EhrError('MEMPOOL_FULL', `account has ${account.size} pending transactions`, {
        limit: this.limits.maxPerAccount,
      });
    }
    let bodies = 0;
    for (const body of payloads.values()) bodies += body.length;
    const maxBodies = this.limits.maxBodyBytes ?? Number.POSITIVE_INFINITY;
    if (bodies > maxBodies) {
      throw new EhrError(
        'PAYLOAD_TOO_LARGE',
        `the transaction's bodies weigh ${bodies} bytes together; the limit is ${maxBodies}`,
        { size: bodies, limit: maxBodies },
      );
    }
    // A body travels only with a transaction that names it (its hash is in the signed bytes):
    // anything else would ride the mempool and gossip to every node without ever committing.
    const signed = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const [h, body] of payloads) {
      if (signed.indexOf(Buffer.from(h, 'hex')) < 0) {
        throw new EhrError(
          'PAYLOAD_UNREFERENCED',
          `a body of ${body.length} bytes (sha256 ${h}) is not named by the transaction; send only the bodies it references`,
          { hash: h, size: body.length },
        );
      }
    }
    const size = bytes.length + bodies;
    const freed = clash ? { txs: 1, bytes: clash.size } : { txs: 0, bytes: 0 };
    if (
      this.byHash.size - freed.txs >= this.limits.maxTxs ||
      this.bytes - freed.bytes + size > this.limits.maxBytes
    ) {
      throw new EhrError('MEMPOOL_FULL', 'the mempool is full; retry shortly', {
        txs: this.byHash.size,
        bytes: this.bytes,
      });
    }
    if (clash) this.remove(clash.hash);
    const entry: PendingTx = {
      hash,
      bytes,
      tx,
      author,
      addedAt: now,
      expires: tx.expires,
      payloads,
      size,
    };
    account.set(tx.nonce, entry);
    this.byAccount.set(author, account);
    this.byHash.set(hash, entry);
    this.bytes += size;
    return clash ? { ...entry, replaced: clash } : entry;
  }

  get(hash: string): PendingTx | undefined {
    return this.byHash.get(hash);
  }

  /** A pending transaction as decoded (and verified) at admission: never decoded again. */
  decoded(hash: string): SignedTx | undefined {
    return this.byHash.get(hash)?.tx;
  }

  remove(hash: string): PendingTx | undefined {
    const entry = this.byHash.get(hash);
    if (!entry) return undefined;
    this.byHash.delete(hash);
    this.bytes -= entry.size;
    const account = this.byAccount.get(entry.author);
    if (account) {
      account.delete(entry.tx.nonce);
      if (account.size === 0) this.byAccount.delete(entry.author);
    }
    return entry;
  }

  /**
   * Drops transactions whose nonce the chain has moved past (another transaction used it), for
   * `authors` or every account.
   */
  async evictStale(authors?: Iterable<string>): Promise<PendingTx[]> {
    const out: PendingTx[] = [];
    for (const author of authors ? [...new Set(authors)] : [...this.byAccount.keys()]) {
      const account = this.byAccount.get(author);
      if (!account) continue;
      const next = await this.nextNonce(author);
      for (const [nonce, entry] of [...account]) {
        if (nonce < next) {
          this.remove(entry.hash);
          out.push(entry);
        }
      }
    }
    return out;
  }

  /** Drops transactions whose deadline is before `time`: they can no longer be included. */
  evictExpired(time: number): PendingTx[] {
    const out: PendingTx[] = [];
    for (const entry of [...this.byHash.values()]) {
      if (entry.expires < time) {
        this.remove(entry.hash);
        out.push(entry);
      }
    }
    return out;
  }

  /** This node's pending transactions of one account, in nonce order. */
  pendingOf(author: string): PendingTx[] {
    const account = this.byAccount.get(author);
    return account ? [...account.values()].sort((a, b) => a.tx.nonce - b.tx.nonce) : [];
  }

  /**
   * Candidates for the next block: per account, consecutive nonces from the nonce the proposer
   * expects next (`expectedNonce`, which counts blocks still in flight), accounts interleaved
   * round-robin so one busy account cannot starve the others. Within `max.txs` transactions,
   * `max.txBytes` of transactions and `max.contentBytes` of transactions with their bodies.
   */
  select(
    max: { txs: number; txBytes: number; contentBytes?: number },
    expectedNonce: (author: string) => number | undefined,
  ): PendingTx[] {
    const maxTxs = max.txs;
    const maxContent = max.contentBytes ?? Number.POSITIVE_INFINITY;
    const queues: PendingTx[][] = [];
    for (const [author, account] of this.byAccount) {
      let nonce = expectedNonce(author);
      if (nonce === undefined) continue;
      const queue: PendingTx[] = [];
      for (let e = account.get(nonce); e; e = account.get(++nonce)) queue.push(e);
      if (queue.length > 0) queues.push(queue);
    }
    const out: PendingTx[] = [];
    let bytes = 0;
    let content = 0;
    for (let round = 0; out.length < maxTxs; round++) {
      let took = false;
      for (const q of queues) {
        const e = q[round];
        if (!e) continue;
        if (
          out.length >= maxTxs ||
          bytes + e.bytes.length > max.txBytes ||
          content + e.size > maxContent
        )
          return out;
        out.push(e);
        bytes += e.bytes.length;
        content += e.size;
        took = true;
      }
      if (!took) break;
    }
    return out;
  }

  /**
   * The nonce an account's next transaction should carry: the committed next nonce, moved past
   * the run of pending transactions that follow it without a gap.
   */
  async nextNonceFor(author: string): Promise<number> {
    let n = await this.nextNonce(author);
    const account = this.byAccount.get(author);
    while (account?.has(n)) n++;
    return n;
  }

  /** Every pending transaction, oldest admission first. */
  all(): IterableIterator<PendingTx> {
    return this.byHash.values();
  }

  accounts(): string[] {
    return [...this.byAccount.keys()];
  }
}
