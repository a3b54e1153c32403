/**
 * Client-side chain verification on real signed blocks: a good chain verifies, and each kind of
 * tampering is reported at the height where it happens. Also the peer id `node init` prints.
 */
import {
  type Block,
  type BlockHeader,
  blockHash,
  encodeBlock,
  generateKeyPair,
  signBlock,
  toHex,
  txHash,
  txRootOf,
  utf8,
} from '@ehr/core';
import { peerIdOf } from '@ehr/p2p';
import { describe, expect, it } from 'vitest';
import { peerIdOfNode } from '../src/peer-id.ts';
import { type ServedBlock, verifyChain } from '../src/verify.ts';

const proposer = generateKeyPair();
const GENESIS_HASH = new Uint8Array(32).fill(7);

function makeChain(n: number): Block[] {
  const blocks: Block[] = [];
  let prev: Uint8Array = GENESIS_HASH;
  for (let h = 1; h <= n; h++) {
    const txs = Array.from({ length: h % 3 }, (_, i) => utf8(`tx ${h}.${i}`));
    const header: BlockHeader = {
      chainId: 'verify-test',
      height: h,
      prevHash: prev,
      term: 1 + Math.floor(h / 4),
      proposer: proposer.publicKey,
      time: 1_700_000_000_000 + h * 1000,
      txCount: txs.length,
      txRoot: txRootOf(txs),
      stateHash: new Uint8Array(32).fill(h),
    };
    const b = signBlock(header, txs, proposer.secretKey);
    blocks.push(b);
    prev = blockHash(header);
  }
  return blocks;
}

const serve = (b: Block): ServedBlock => ({
  height: b.header.height,
  hash: toHex(blockHash(b.header)),
  txs: b.txs.map((t) => toHex(txHash(t))),
  raw: toHex(encodeBlock(b)),
});

async function verify(served: ServedBlock[], anchor: Uint8Array | null = GENESIS_HASH) {
  const progress: number[] = [];
  const r = await verifyChain(async (h) => served[h - 1]!, {
    from: 1,
    to: served.length,
    ...(anchor ? { anchor } : {}),
    window: 3,
    onProgress: (h) => progress.push(h),
  });
  return { ...r, progress };
}

describe('verifyChain', () => {
  it('verifies a good chain, counting blocks and transactions', async () => {
    const chain = makeChain(10);
    const r = await verify(chain.map(serve));
    expect(r).toMatchObject({ ok: true, checked: 10, transactions: 10, anchored: true });
    expect(r.lastHash).toBe(toHex(blockHash(chain[9]!.header)));
    expect(r.progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('names the first bad height for each kind of tampering', async () => {
    const chain = makeChain(8);
    const cases: [string, (s: ServedBlock[]) => void, number, RegExp][] = [
      [
        'a transaction swapped in the body',
        (s) => {
          const b = { ...chain[4]!, txs: [utf8('forged'), ...chain[4]!.txs.slice(1)] };
          s[4] = { ...serve(b), txs: serve(chain[4]!).txs };
        },
        5,
        /txRoot does not match body/,
      ],
      [
        'a header re-signed by another key',
        (s) => {
          const other = generateKeyPair();
          s[2] = serve(signBlock(chain[2]!.header, chain[2]!.txs, other.secretKey));
        },
        3,
        /signature does not verify/,
      ],
      [
        'a block from another history (prevHash does not link)',
        (s) => {
          const h = { ...chain[5]!.header, prevHash: new Uint8Array(32) };
          s[5] = serve(signBlock(h, chain[5]!.txs, proposer.secretKey));
        },
        6,
        /does not link to the previous block/,
      ],
      [
        'a block rewritten and re-signed (the next one no longer links)',
        (s) => {
          const h = { ...chain[3]!.header, stateHash: new Uint8Array(32).fill(99) };
          s[3] = serve(signBlock(h, chain[3]!.txs, proposer.secretKey));
        },
        5,
        /does not link/,
      ],
      [
        'bytes that do not decode',
        (s) => {
          s[1] = { ...s[1]!, raw: 'ff00' };
        },
        2,
        /does not decode/,
      ],
      [
        'a node lying about the hash',
        (s) => {
          s[6] = { ...s[6]!, hash: '00'.repeat(32) };
        },
        7,
        /claims hash/,
      ],
      [
        'a block not served',
        (s) => {
          s[7] = { height: 8, hash: '', txs: [], raw: '', error: 'not found' };
        },
        8,
        /does not serve it/,
      ],
    ];
    for (const [what, tamper, height, reason] of cases) {
      const served = chain.map(serve);
      tamper(served);
      const r = await verify(served);
      expect(r.ok, what).toBe(false);
      expect(r.bad?.height, what).toBe(height);
      expect(r.bad?.reason, what).toMatch(reason);
      expect(r.checked, what).toBe(height - 1);
    }
  });

  it('checks block 1 against the genesis hash only when it is known', async () => {
    const served = makeChain(3).map(serve);
    const wrongGenesis = await verify(served, new Uint8Array(32).fill(1));
    expect(wrongGenesis.bad).toMatchObject({ height: 1, reason: expect.stringMatching(/link/) });
    const unanchored = await verify(served, null);
    expect(unanchored).toMatchObject({ ok: true, anchored: false, checked: 3 });
  });
});

describe('peerIdOfNode', () => {
  it('matches the libp2p peer id of the node key', () => {
    for (let i = 0; i < 5; i++) {
      const k = toHex(generateKeyPair().publicKey);
      expect(peerIdOfNode(k)).toBe(peerIdOf(k).toString());
    }
  });
});
