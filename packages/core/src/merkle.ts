/**
 * Merkle tree over transaction hashes, shaped as RFC 6962 (Certificate Transparency): leaves are
 * H(0x00 || leaf), inner nodes H(0x01 || left || right), the split at the largest power of two
 * below n. Domain separation stops an inner node from posing as a leaf.
 */
import { concatBytes } from './bytes.ts';
import { sha256 } from './hash.ts';

const LEAF = new Uint8Array([0]);
const NODE = new Uint8Array([1]);
export const EMPTY_ROOT = sha256(new Uint8Array(0));

export const leafHash = (leaf: Uint8Array): Uint8Array => sha256(concatBytes(LEAF, leaf));
export const nodeHash = (l: Uint8Array, r: Uint8Array): Uint8Array =>
  sha256(concatBytes(NODE, l, r));

function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

function subtreeRoot(hashes: Uint8Array[], from: number, to: number): Uint8Array {
  const n = to - from;
  if (n === 1) return hashes[from]!;
  const k = splitPoint(n);
  return nodeHash(subtreeRoot(hashes, from, from + k), subtreeRoot(hashes, from + k, to));
}

/** Root over the given leaves (transaction hashes). */
export function merkleRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  return subtreeRoot(leaves.map(leafHash), 0, leaves.length);
}
