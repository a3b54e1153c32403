/**
 * The one per-block check (block-check.ts) against hostile bytes: a real signed block of real
 * transactions, damaged one byte at a time in each of its regions, cut short, emptied, swollen,
 * and asked to be at another height, on another chain or after another block.
 */
import {
  blockHash,
  concatBytes,
  encodeBlock,
  publicKeyOf,
  sha256,
  signBlock,
  txHash,
  txRootOf,
  utf8,
} from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { type BlockProblem, checkStoredBlock } from '../src/block-check.ts';
import { CHAIN_ID, hospitalTx, testKeys } from './chain.ts';

const keys = testKeys(11);
const prevHash = sha256(utf8('the block before'));
const txs = [0, 1, 2].map((n) => hospitalTx(keys.admin, n, `hospital-${n}`));
const header = {
  chainId: CHAIN_ID,
  height: 5,
  prevHash,
  term: 3,
  proposer: publicKeyOf(keys.node),
  time: 1_700_000_123_456,
  txCount: txs.length,
  txRoot: txRootOf(txs),
  stateHash: sha256(utf8('state after block 5')),
};
const block = signBlock(header, txs, keys.node);
const bytes = encodeBlock(block);
const expectation = { height: 5, chainId: CHAIN_ID, prevHash };

const problemOf = (b: Uint8Array, e: Parameters<typeof checkStoredBlock>[1] = expectation) => {
  const r = checkStoredBlock(b, e);
  if (r.ok) throw new Error('the damaged block passed');
  return r as BlockProblem;
};

/** Offset of the first occurrence of `needle` in `bytes` (throws when absent). */
function offsetOf(needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  throw new Error('not found in the block');
}
/** Where the header starts (canonical CBOR puts the shorter key `txs` before it). */
const headerAt = offsetOf(utf8('header'));
/** The offset of the first byte of the value of header field `name` (after its CBOR key). */
const fieldAt = (name: string) =>
  offsetOf(concatBytes(new Uint8Array([0x60 + name.length]), utf8(name)), headerAt) +
  1 +
  name.length;
const lastByteOf = (value: Uint8Array) => offsetOf(value, headerAt) + value.length - 1;
const flipped = (at: number, bit = 0x01) => {
  const copy = bytes.slice();
  copy[at]! ^= bit;
  return copy;
};

describe('checkStoredBlock', () => {
  it('passes the intact block and returns it decoded, with its hash and transaction hashes', () => {
    const r = checkStoredBlock(bytes, expectation);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.block).toEqual(block);
    expect(r.hash).toEqual(blockHash(header));
    expect(r.txHashes).toEqual(txs.map(txHash));
    // Without a previous hash to link to, the rest is still checked.
    expect(checkStoredBlock(bytes, { height: 5, chainId: CHAIN_ID }).ok).toBe(true);
  });

  it('names the region of one flipped byte: version, keys, each header field, signature, each transaction', () => {
    const regions: [string, number, BlockProblem['code']][] = [
      ['codec version', 0, 'BLOCK_UNDECODABLE'],
      ['the "header" key', headerAt, 'BLOCK_UNDECODABLE'],
      ['chainId', fieldAt('chainId') + 3, 'BLOCK_CHAIN'],
      ['height', fieldAt('height'), 'BLOCK_HEIGHT'],
      ['prevHash', lastByteOf(prevHash), 'BLOCK_LINK'],
      ['term', fieldAt('term'), 'BLOCK_SIGNATURE'],
      ['proposer', lastByteOf(header.proposer), 'BLOCK_SIGNATURE'],
      ['time', fieldAt('time') + 8, 'BLOCK_SIGNATURE'],
      ['txCount', fieldAt('txCount'), 'BLOCK_BODY'],
      ['txRoot', lastByteOf(header.txRoot), 'BLOCK_BODY'],
      ['stateHash', lastByteOf(header.stateHash), 'BLOCK_SIGNATURE'],
      ['signature', lastByteOf(block.signature), 'BLOCK_SIGNATURE'],
      ...txs.map((t, i): [string, number, BlockProblem['code']] => [
        `transaction ${i}`,
        offsetOf(t) + Math.floor(t.length / 2),
        'BLOCK_BODY',
      ]),
      ['the map head', 1, 'BLOCK_UNDECODABLE'],
    ];
    for (const [region, at, code] of regions) {
      const p = problemOf(flipped(at));
      expect(p.code, `${region} (byte ${at}): ${p.what}`).toBe(code);
      expect(p.height).toBe(5);
      expect(p.message).toBe(`at height 5: ${p.what}`);
    }
    expect(problemOf(flipped(fieldAt('height'))).what).toBe('block says height 4');
    expect(problemOf(flipped(fieldAt('chainId') + 3)).what).toMatch(/^block is for chain /);
    expect(problemOf(flipped(lastByteOf(header.txRoot))).what).toBe('txRoot does not match body');
    // A broken link is still caught by the signature when the caller does not know the link.
    expect(problemOf(flipped(lastByteOf(prevHash)), { height: 5, chainId: CHAIN_ID }).code).toBe(
      'BLOCK_SIGNATURE',
    );
  });

  it('catches every single flipped bit anywhere in the block', () => {
    for (let at = 0; at < bytes.length; at++) {
      for (const bit of [0x01, 0x80]) {
        const r = checkStoredBlock(flipped(at, bit), expectation);
        expect(r.ok, `bit ${bit} of byte ${at} of ${bytes.length}`).toBe(false);
      }
    }
  });

  it('refuses a wrong height, a wrong chain and a broken link, saying which', () => {
    expect(problemOf(bytes, { ...expectation, height: 6 })).toMatchObject({
      code: 'BLOCK_HEIGHT',
      height: 6,
      what: 'block says height 5',
      message: 'at height 6: block says height 5',
    });
    expect(problemOf(bytes, { ...expectation, chainId: 'other-chain' })).toMatchObject({
      code: 'BLOCK_CHAIN',
      what: `block is for chain ${CHAIN_ID}`,
    });
    expect(
      problemOf(bytes, { ...expectation, prevHash: sha256(utf8('another past')) }),
    ).toMatchObject({
      code: 'BLOCK_LINK',
      what: 'previous-block hash does not link',
    });
    // A height no store reaches, and zero.
    expect(problemOf(bytes, { ...expectation, height: Number.MAX_SAFE_INTEGER }).code).toBe(
      'BLOCK_HEIGHT',
    );
    expect(problemOf(bytes, { ...expectation, height: 0 }).code).toBe('BLOCK_HEIGHT');
  });

  it('refuses empty and truncated bytes as undecodable, at every length', () => {
    expect(problemOf(new Uint8Array(0))).toMatchObject({
      code: 'BLOCK_EMPTY',
      message: 'at height 5: block is empty (0 bytes stored)',
    });
    for (let n = 1; n < bytes.length; n++) {
      const p = problemOf(bytes.subarray(0, n));
      expect(p.code, `first ${n} bytes`).toBe('BLOCK_UNDECODABLE');
      expect(p.what).toMatch(/^block does not decode \(.+\)$/);
    }
  });

  it('refuses huge inputs quickly: zeros, trailing bytes, a swollen transaction list', () => {
    const t = performance.now();
    const zeros = problemOf(new Uint8Array(32 * 1024 * 1024));
    expect(zeros.code).toBe('BLOCK_UNDECODABLE');
    expect(zeros.what).toMatch(/version 0/);
    const trailing = problemOf(concatBytes(bytes, new Uint8Array(16 * 1024 * 1024).fill(0xa5)));
    expect(trailing.code).toBe('BLOCK_UNDECODABLE');
    // A 16 MiB transaction smuggled into the body: the header does not count it.
    const big = new Uint8Array(16 * 1024 * 1024).fill(7);
    const swollen = encodeBlock({ ...block, txs: [...txs, big] });
    expect(problemOf(swollen)).toMatchObject({
      code: 'BLOCK_BODY',
      what: 'txCount 3 but body has 4 transactions',
    });
    // Counted, it no longer matches the Merkle root the proposer signed.
    const counted = encodeBlock({
      ...block,
      header: { ...header, txCount: 4 },
      txs: [...txs, big],
    });
    expect(problemOf(counted).code).toBe('BLOCK_BODY');
    expect(performance.now() - t).toBeLessThan(5_000);
  });
});
