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

/** Sibling hashes from leaf `index` up to the root (RFC 6962 audit path). */
export function merkleProof(leaves: Uint8Array[], index: number): Uint8Array[] {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`leaf index ${index} is outside 0..${leaves.length - 1}`);
  }
  const hashes = leaves.map(leafHash);
  const path = (m: number, from: number, to: number): Uint8Array[] => {
    const n = to - from;
    if (n === 1) return [];
    const k = splitPoint(n);
    return m < k
      ? [...path(m, from, from + k), subtreeRoot(hashes, from + k, to)]
      : [...path(m - k, from + k, to), subtreeRoot(hashes, from, from + k)];
  };
  return path(index, 0, leaves.length);
}

/** Checks that `leaf` sits at `index` of a `count`-leaf tree with this root (RFC 9162 2.1.3.2). */
export function verifyMerkleProof(
  leaf: Uint8Array,
  index: number,
  count: number,
  proof: Uint8Array[],
  root: Uint8Array,
): boolean {
  if (!Number.isInteger(index) || index < 0 || index >= count) return false;
  let fn = index;
  let sn = count - 1;
  let r = leafHash(leaf);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0 || r.length !== root.length) return false;
  for (let i = 0; i < r.length; i++) if (r[i] !== root[i]) return false;
  return true;
}
