/**
 * Verifies the chain in the browser, trusting nothing the node says about it: each block's raw
 * bytes are decoded here and checked for its link to the previous block (prevHash = hash of the
 * previous header), the proposer's signature, every transaction's signature, and the Merkle
 * root of its transactions (txRoot). Only the raw bytes come from the node.
 */
import {
  blockHash,
  checkBlockBody,
  decodeBlock,
  decodeTx,
  equalBytes,
  fromHex,
  toHex,
  verifyBlockSignature,
  verifyTxSignature,
} from '@ehr/core';

export interface VerifyResult {
  checked: number;
  txs: number;
  problems: { height: number; what: string }[];
}

export type FetchRaw = (height: number) => Promise<string>;

/** Checks one block's own bytes (signature, tx signatures, Merkle root); problems in words. */
export function checkBlockBytes(
  raw: Uint8Array,
  expectHeight: number,
): { problems: string[]; hash: Uint8Array; prevHash: Uint8Array; txs: number } {
  const problems: string[] = [];
  let block: ReturnType<typeof decodeBlock>;
  try {
    block = decodeBlock(raw);
  } catch (err) {
    return {
      problems: [`cannot be decoded (${(err as Error).message})`],
      hash: new Uint8Array(32),
      prevHash: new Uint8Array(32),
      txs: 0,
    };
  }
  if (block.header.height !== expectHeight) problems.push(`says height ${block.header.height}`);
  if (!verifyBlockSignature(block)) problems.push("the proposer's signature does not match");
  const body = checkBlockBody(block);
  if (body) problems.push(`Merkle root: ${body}`);
  block.txs.forEach((t, i) => {
    try {
      if (!verifyTxSignature(decodeTx(t)))
        problems.push(`transaction ${i}: signature does not match`);
    } catch (err) {
      problems.push(`transaction ${i}: cannot be decoded (${(err as Error).message})`);
    }
  });
  return {
    problems,
    hash: blockHash(block.header),
    prevHash: block.header.prevHash,
    txs: block.txs.length,
  };
}

export async function verifyChain(
  fetchRaw: FetchRaw,
  from: number,
  to: number,
  onProgress: (done: number, total: number) => void,
  tamper?: (height: number, raw: Uint8Array) => Uint8Array,
): Promise<VerifyResult> {
  const out: VerifyResult = { checked: 0, txs: 0, problems: [] };
  let prev: Uint8Array | null = null;
  const total = to - from + 1;
  for (let h = from; h <= to; h++) {
    let raw = fromHex(await fetchRaw(h));
    if (tamper) raw = tamper(h, raw);
    const r = checkBlockBytes(raw, h);
    for (const p of r.problems) out.problems.push({ height: h, what: p });
    if (prev && !equalBytes(r.prevHash, prev)) {
      out.problems.push({
        height: h,
        what: `does not link to block ${h - 1} (prevHash ${toHex(r.prevHash).slice(0, 12)}…)`,
      });
    }
    prev = r.hash;
    out.checked++;
    out.txs += r.txs;
    onProgress(out.checked, total);
    // Let the page paint the progress bar.
    if (out.checked % 8 === 0) await new Promise((res) => setTimeout(res, 0));
  }
  return out;
}
