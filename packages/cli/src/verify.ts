/**
 * Client-side chain verification: every block from `from` to `to` as the node serves its raw
 * bytes, checked here without trusting the node: decodes, height, chain id, hash link to the
 * previous header, proposer signature, txCount/txRoot against the body, monotonic term and time,
 * and that what the node claims (hash, tx hashes) matches the bytes. Stops at the first bad block.
 */
import {
  type Block,
  blockHash,
  checkBlockBody,
  decodeBlock,
  equalBytes,
  fromHex,
  toHex,
  txHash,
  verifyBlockSignature,
} from '@ehr/core';

/** One block as chain_getBlock serves it. */
export interface ServedBlock {
  height: number;
  hash: string;
  txs: string[];
  raw: string;
  /** Set instead when the node would not serve the block. */
  error?: string;
}

export interface VerifyOptions {
  from: number;
  to: number;
  /** The hash block `from` must link to: genesisBlockHash for block 1, else the block before. */
  anchor?: Uint8Array;
  chainId?: string;
  /** Blocks fetched ahead of the one being checked. */
  window?: number;
  onProgress?: (height: number) => void;
}

export interface VerifyResult {
  ok: boolean;
  from: number;
  to: number;
  /** Blocks that verified. */
  checked: number;
  transactions: number;
  /** The first block that does not verify. */
  bad?: { height: number; reason: string };
  /** Whether block `from` was checked against a known previous hash. */
  anchored: boolean;
  lastHash: string | null;
}

/** Checks one block against the previous header; returns why it is bad, or undefined. */
export function checkBlock(
  height: number,
  served: ServedBlock,
  prev: { hash: Uint8Array | undefined; time: number; term: number; chainId: string | undefined },
): { block: Block; reason?: undefined } | { block?: Block; reason: string } {
  if (served.error !== undefined) return { reason: `the node does not serve it: ${served.error}` };
  let block: Block;
  try {
    block = decodeBlock(fromHex(served.raw));
  } catch (err) {
    return { reason: `does not decode: ${(err as Error).message}` };
  }
  const h = block.header;
  if (h.height !== height) return { block, reason: `header says height ${h.height}` };
  if (prev.chainId !== undefined && h.chainId !== prev.chainId) {
    return { block, reason: `chain id "${h.chainId}", expected "${prev.chainId}"` };
  }
  const hash = blockHash(h);
  if (served.hash !== toHex(hash)) {
    return {
      block,
      reason: `the node claims hash ${served.hash.slice(0, 16)}…, the header hashes to ${toHex(hash).slice(0, 16)}…`,
    };
  }
  if (prev.hash && !equalBytes(h.prevHash, prev.hash)) {
    return {
      block,
      reason: `prevHash ${toHex(h.prevHash).slice(0, 16)}… does not link to the previous block ${toHex(prev.hash).slice(0, 16)}…`,
    };
  }
  if (!verifyBlockSignature(block)) {
    return {
      block,
      reason: `the proposer's signature does not verify (proposer ${toHex(h.proposer).slice(0, 16)}…)`,
    };
  }
  const body = checkBlockBody(block);
  if (body) return { block, reason: body };
  const hashes = block.txs.map((t) => toHex(txHash(t)));
  if (hashes.length !== served.txs.length || hashes.some((x, i) => x !== served.txs[i])) {
    return { block, reason: 'the transaction hashes the node lists differ from the block body' };
  }
  if (h.term < prev.term)
    return { block, reason: `term ${h.term} is before the previous block's ${prev.term}` };
  if (h.time < prev.time)
    return { block, reason: `time ${h.time} is before the previous block's ${prev.time}` };
  return { block };
}

/** Walks `from`..`to` through `fetch`, prefetching a window of blocks. */
export async function verifyChain(
  fetch: (height: number) => Promise<ServedBlock>,
  o: VerifyOptions,
): Promise<VerifyResult> {
  const window = Math.max(1, o.window ?? 8);
  const inflight = new Map<number, Promise<ServedBlock>>();
  let next = o.from;
  const fill = (upTo: number) => {
    for (; next <= Math.min(upTo, o.to); next++) {
      const p = fetch(next);
      p.catch(() => {}); // awaited in order below; avoid unhandled rejections meanwhile
      inflight.set(next, p);
    }
  };
  const prev = { hash: o.anchor, time: 0, term: 0, chainId: o.chainId };
  const result: VerifyResult = {
    ok: true,
    from: o.from,
    to: o.to,
    checked: 0,
    transactions: 0,
    anchored: o.anchor !== undefined,
    lastHash: null,
  };
  for (let h = o.from; h <= o.to; h++) {
    fill(h + window - 1);
    const served = await inflight.get(h)!;
    inflight.delete(h);
    const r = checkBlock(h, served, prev);
    if (r.reason !== undefined) {
      result.ok = false;
      result.bad = { height: h, reason: r.reason };
      break;
    }
    const hd = r.block.header;
    prev.hash = blockHash(hd);
    prev.time = hd.time;
    prev.term = hd.term;
    prev.chainId ??= hd.chainId;
    result.checked++;
    result.transactions += hd.txCount;
    result.lastHash = toHex(prev.hash);
    o.onProgress?.(h);
  }
  // Let requests still in flight settle before returning (no dangling sockets).
  await Promise.allSettled(inflight.values());
  return result;
}
