import { describe, expect, it } from 'vitest';
import { merkleProof, merkleRoot, sha256, utf8, verifyMerkleProof } from '../src/index.ts';

const leaves = (n: number) => Array.from({ length: n }, (_, i) => sha256(utf8(`tx ${i}`)));

describe('Merkle inclusion proofs', () => {
  it('every leaf of every tree size 1..64 proves, and nothing else does', () => {
    for (let n = 1; n <= 64; n++) {
      const ls = leaves(n);
      const root = merkleRoot(ls);
      for (let i = 0; i < n; i++) {
        const proof = merkleProof(ls, i);
        expect(verifyMerkleProof(ls[i]!, i, n, proof, root)).toBe(true);
        expect(
          verifyMerkleProof(ls[(i + 1) % n]!, i, n, proof, root),
          `n=${n} i=${i} other leaf`,
        ).toBe(n === 1);
        if (n > 1) expect(verifyMerkleProof(ls[i]!, (i + 1) % n, n, proof, root)).toBe(false);
        if (proof.length > 0) {
          const bad = proof.map((p) => p.slice());
          bad[0]![0]! ^= 1;
          expect(verifyMerkleProof(ls[i]!, i, n, bad, root)).toBe(false);
        }
        const badRoot = root.slice();
        badRoot[5]! ^= 1;
        expect(verifyMerkleProof(ls[i]!, i, n, proof, badRoot)).toBe(false);
      }
    }
  });

  it('leaves and inner nodes are domain-separated', () => {
    const ls = leaves(2);
    // An inner node presented as a leaf must not verify against a larger tree's root.
    const four = leaves(4);
    const root = merkleRoot(four);
    expect(verifyMerkleProof(merkleRoot(ls), 0, 2, [merkleRoot(four.slice(2))], root)).toBe(false);
    expect(() => merkleProof(ls, 2)).toThrow(/outside/);
  });
});
