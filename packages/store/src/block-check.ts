/**
 * The checks one stored block must pass, whoever reads it: the start-up check of the last blocks
 * (recent-check.ts), the full walk of the scrubber and `ehr node verify` (walk.ts) and the reads
 * that verify what they serve (served.ts). Pure: bytes and what they must be in, a verdict out;
 * the store lookups (the block-hash index, the write set) stay with the callers.
 *
 * In order: the bytes decode as a block; it is the block of the expected height, for this chain;
 * it links to the previous block's hash (when the caller knows it); its body matches the header
 * (transaction count and Merkle root); the proposer's signature over the header verifies. The
 * first failure is the verdict, with a code and a message naming the height and what is wrong.
 */
import {
  type Block,
  blockHash,
  checkBlockBody,
  decodeBlock,
  equalBytes,
  txHash,
  verifyBlockSignature,
} from '@ehr/core';

export interface BlockExpectation {
  /** The height the bytes are stored under. */
  height: number;
  chainId: string;
  /** The hash of the block before it; when absent the link is left to the caller. */
  prevHash?: Uint8Array;
}

export type BlockProblemCode =
  | 'BLOCK_EMPTY'
  | 'BLOCK_UNDECODABLE'
  | 'BLOCK_HEIGHT'
  | 'BLOCK_CHAIN'
  | 'BLOCK_LINK'
  | 'BLOCK_BODY'
  | 'BLOCK_SIGNATURE';

export interface CheckedBlock {
  ok: true;
  block: Block;
  /** The block's hash (of its header). */
  hash: Uint8Array;
  /** The hash of each transaction, in block order (computed for the Merkle root). */
  txHashes: Uint8Array[];
}

export interface BlockProblem {
  ok: false;
  code: BlockProblemCode;
  /** The height the block was expected at. */
  height: number;
  /** What is wrong, e.g. `block says height 7` or `proposer signature does not verify`. */
  what: string;
  /** `at height H: <what>`, to follow a caller's own words (`store is corrupt …`). */
  message: string;
}

const problem = (height: number, code: BlockProblemCode, what: string): BlockProblem => ({
  ok: false,
  code,
  height,
  what,
  message: `at height ${height}: ${what}`,
});

/** Whether `bytes` are the block `expect` describes; see the module comment. */
export function checkStoredBlock(
  bytes: Uint8Array,
  expect: BlockExpectation,
): CheckedBlock | BlockProblem {
  const h = expect.height;
  if (bytes.length === 0) return problem(h, 'BLOCK_EMPTY', 'block is empty (0 bytes stored)');
  let block: Block;
  try {
    block = decodeBlock(bytes);
  } catch (err) {
    return problem(h, 'BLOCK_UNDECODABLE', `block does not decode (${(err as Error).message})`);
  }
  const hd = block.header;
  if (hd.height !== h) return problem(h, 'BLOCK_HEIGHT', `block says height ${hd.height}`);
  if (hd.chainId !== expect.chainId)
    return problem(h, 'BLOCK_CHAIN', `block is for chain ${hd.chainId}`);
  if (expect.prevHash && !equalBytes(hd.prevHash, expect.prevHash))
    return problem(h, 'BLOCK_LINK', 'previous-block hash does not link');
  const txHashes = block.txs.map(txHash);
  const body = checkBlockBody(block, txHashes);
  if (body) return problem(h, 'BLOCK_BODY', body);
  if (!verifyBlockSignature(block))
    return problem(h, 'BLOCK_SIGNATURE', 'proposer signature does not verify');
  return { ok: true, block, hash: blockHash(hd), txHashes };
}
