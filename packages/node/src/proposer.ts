/**
 * Block production on the leader. Blocks are built speculatively on top of the blocks still in
 * flight (proposed, not yet committed), so the leader can pipeline several blocks per round trip.
 * Each build takes mempool transactions in per-account nonce order, keeps those the rules apply
 * and those they refuse (with a failed receipt, which makes the refusal final everywhere), leaves
 * out what fails authentication (reported back to submitters), and signs the header with the
 * node key. Losing leadership discards the speculation; the transactions are still in the
 * mempool and the next leader includes them.
 */
import {
  type Block,
  type BlockHeader,
  blockHash,
  encodeBlock,
  merkleRoot,
  publicKeyOf,
  signBlock,
  toHex,
} from '@ehr/core';
import {
  BlockBuilder,
  type BlockResult,
  nextNonce,
  Overlay,
  type StateReader,
  type TxDecoder,
  type VerifiedTxs,
  type WriteSet,
} from '@ehr/ledger';
import type { Head } from '@ehr/store';
import { encodeBlockEntry } from './block-entry.ts';
import type { Mempool, PendingTx } from './mempool.ts';

/** The committed chain head the next block builds on (the store's head, less its log index). */
export type ChainTip = Omit<Head, 'applied'>;

export interface BuiltBlock {
  block: Block;
  hash: string;
  entry: Uint8Array;
  result: BlockResult;
  included: PendingTx[];
}

export interface Rejected {
  hash: string;
  code: string;
  message: string;
}

export interface ProposerDeps {
  chainId: string;
  secretKey: Uint8Array;
  committedState: StateReader;
  committedTip: () => ChainTip;
  mempool: Mempool;
  verified: VerifiedTxs;
  /** How transactions the mempool does not hold are decoded (default core's decodeTx). */
  decodeTx?: TxDecoder;
  maxBlockTxs: number;
  /** Transaction bytes per block (the consensus rule caps them at the genesis maxBlockBytes). */
  maxBlockBytes: number;
  /** Transaction bytes plus the bodies they carry, per block (wireLimits().blockContentBytes). */
  maxBlockContentBytes: number;
  now: () => number;
}

export class Proposer {
  private readonly deps: ProposerDeps;
  private readonly proposer: Uint8Array;
  private inflight: BuiltBlock[] = [];

  constructor(deps: ProposerDeps) {
    this.deps = deps;
    this.proposer = publicKeyOf(deps.secretKey);
  }

  get inflightCount(): number {
    return this.inflight.length;
  }

  /** Forget speculation (leadership lost, or the committed chain went another way). */
  reset(): void {
    this.inflight = [];
  }

  /**
   * A block was committed: if it is the oldest one in flight, hand back what was computed when
   * it was built (so the leader need not execute it twice); otherwise drop the speculation.
   */
  committed(height: number, hash: string): BuiltBlock | undefined {
    const first = this.inflight[0];
    if (first && first.block.header.height === height && first.hash === hash) {
      this.inflight.shift();
      return first;
    }
    if (this.inflight.some((b) => b.block.header.height <= height)) this.reset();
    return undefined;
  }

  private tip(): ChainTip {
    const last = this.inflight.at(-1);
    if (!last) return this.deps.committedTip();
    const h = last.block.header;
    return { height: h.height, hash: blockHash(h), stateHash: h.stateHash, time: h.time };
  }

  /** The committed state with every in-flight block's writes layered on top. */
  private speculativeState(): Overlay {
    const base = new Overlay(this.deps.committedState);
    for (const b of this.inflight) applyWrites(base, b.result.writes);
    return base;
  }

  /** Builds the next block, or returns null when nothing in the mempool can go in. */
  async build(term: number): Promise<{ built: BuiltBlock | null; rejected: Rejected[] }> {
    const { mempool } = this.deps;
    const rejected: Rejected[] = [];
    if (mempool.size === 0) return { built: null, rejected };
    const tip = this.tip();
    const base = this.speculativeState();
    const height = tip.height + 1;
    const time = Math.max(this.deps.now(), tip.time);
    const nonces = new Map<string, number>();
    await Promise.all(mempool.accounts().map(async (a) => nonces.set(a, await nextNonce(base, a))));
    const candidates = mempool.select(
      {
        txs: this.deps.maxBlockTxs,
        txBytes: this.deps.maxBlockBytes,
        contentBytes: this.deps.maxBlockContentBytes,
      },
      (a) => nonces.get(a),
    );
    if (candidates.length === 0) return { built: null, rejected };
    const builder = await BlockBuilder.open(base, {
      height,
      time,
      verified: this.deps.verified,
      ...(this.deps.decodeTx ? { decode: this.deps.decodeTx } : {}),
    });
    const included: PendingTx[] = [];
    const failedAuthors = new Set<string>();
    for (const c of candidates) {
      if (failedAuthors.has(c.author)) continue;
      const r = await builder.add(c.bytes, c.payloads, c.hash);
      if (r === 'full') break;
      if (r.ok || r.nonceConsumed) {
        // Applied, or refused by the rules: a failed receipt in the block makes the refusal
        // final on every node (see the ledger's receipts policy).
        included.push(c);
      } else {
        // Left out (expired, duplicate, bodies missing). Later nonces of this author cannot
        // apply now; they stay pending.
        failedAuthors.add(c.author);
        rejected.push({ hash: c.hash, code: r.code ?? 'REJECTED', message: r.message ?? '' });
      }
    }
    if (included.length === 0) return { built: null, rejected };
    const result = builder.finish(tip.stateHash);
    const header: BlockHeader = {
      chainId: this.deps.chainId,
      height,
      prevHash: tip.hash,
      term,
      proposer: this.proposer,
      time,
      txCount: builder.txs.length,
      txRoot: merkleRoot(builder.txHashes),
      stateHash: result.stateHash,
    };
    const block = signBlock(header, builder.txs, this.deps.secretKey);
    const referenced = new Set(result.payloads.referenced);
    const bodies: Uint8Array[] = [];
    for (const c of included) {
      for (const [h, body] of c.payloads) if (referenced.has(h)) bodies.push(body);
    }
    const built: BuiltBlock = {
      block,
      hash: toHex(blockHash(header)),
      entry: encodeBlockEntry(encodeBlock(block), bodies),
      result,
      included,
    };
    this.inflight.push(built);
    return { built, rejected };
  }
}

export function applyWrites(overlay: Overlay, writes: WriteSet): void {
  for (const [k, v] of writes) {
    if (v === null) overlay.delete(k);
    else overlay.set(k, v);
  }
}
