import {
  blockHash,
  decodeBlock,
  encodeTx,
  generateSecretKey,
  publicKeyOf,
  sha256,
  signTx,
  toHex,
  utf8,
  verifyBlockSignature,
} from '@ehr/core';
import {
  applyBlock,
  genesisBlockHash,
  genesisStateHash,
  genesisWrites,
  MapState,
  makeGenesis,
} from '@ehr/ledger';
import { describe, expect, it } from 'vitest';
import { decodeBlockEntry } from '../src/block-entry.ts';
import { Mempool } from '../src/mempool.ts';
import { type ChainTip, Proposer } from '../src/proposer.ts';

const admin = generateSecretKey();
const nodeKey = generateSecretKey();
const genesis = makeGenesis({
  chainId: 'test-chain',
  genesisTime: 1_700_000_000_000,
  admins: [publicKeyOf(admin)],
  validators: [publicKeyOf(nodeKey)],
});

const T0 = genesis.genesisTime;

function hospitalTx(nonce: number, id: string, expires = T0 + 60_000) {
  return encodeTx(
    signTx(
      {
        chainId: 'test-chain',
        author: publicKeyOf(admin),
        nonce,
        expires,
        kind: 'hospital.register',
        payload: {
          id,
          name: `${id} hospital`,
          address: '1 road',
          specializations: ['cardiology'],
          contact: 'desk@example.org',
          nodes: [],
          encryptionKey: sha256(utf8(id)),
        },
      },
      admin,
    ),
  );
}

function setup() {
  const state = new MapState();
  state.applyWrites(genesisWrites(genesis));
  const mempool = new Mempool(
    'test-chain',
    { maxTxs: 100, maxBytes: 1 << 20, maxPerAccount: 50, maxTxBytes: 65536 },
    async () => 0,
  );
  const tip: ChainTip = {
    height: 0,
    hash: genesisBlockHash(genesis),
    stateHash: genesisStateHash(genesis),
    time: genesis.genesisTime,
  };
  const proposer = new Proposer({
    chainId: 'test-chain',
    secretKey: nodeKey,
    committedState: state,
    committedTip: () => tip,
    mempool,
    verified: { has: (h) => mempool.has(h) },
    maxBlockTxs: 3,
    maxBlockBytes: 1 << 20,
    maxBlockContentBytes: 1 << 22,
    now: () => genesis.genesisTime + 1000,
  });
  return { state, mempool, proposer, tip };
}

describe('proposer', () => {
  it('pipelines signed blocks that every node applies to the same state hash', async () => {
    const { state, mempool, proposer, tip } = setup();
    for (let n = 0; n < 5; n++) await mempool.add(hospitalTx(n, `h${n}`), T0);
    const first = (await proposer.build(1)).built!;
    const second = (await proposer.build(1)).built!;
    expect(first.block.txs).toHaveLength(3);
    expect(second.block.txs).toHaveLength(2);
    expect(second.block.header.prevHash).toEqual(blockHash(first.block.header));
    expect((await proposer.build(1)).built).toBeNull();
    expect(proposer.inflightCount).toBe(2);

    // A follower applies the entries from scratch and agrees.
    let prev = tip.stateHash;
    for (const b of [first, second]) {
      const entry = decodeBlockEntry(b.entry);
      expect(verifyBlockSignature(entry.block)).toBe(true);
      expect(decodeBlock(entry.blockBytes).header.height).toBe(b.block.header.height);
      const r = await applyBlock(state, entry.block, entry.payloads, { prevStateHash: prev });
      expect(toHex(r.stateHash)).toBe(toHex(b.block.header.stateHash));
      state.applyWrites(r.writes);
      prev = r.stateHash;
      expect(proposer.committed(b.block.header.height, b.hash)).toBe(b);
    }
    expect(proposer.inflightCount).toBe(0);
  });

  it('commits what the rules refuse with a failed receipt, so the refusal is final', async () => {
    const { state, mempool, proposer, tip } = setup();
    await mempool.add(hospitalTx(0, 'same'), T0);
    await mempool.add(hospitalTx(1, 'same'), T0);
    await mempool.add(hospitalTx(2, 'other'), T0);
    const { built, rejected } = await proposer.build(1);
    expect(rejected).toHaveLength(0);
    expect(built!.block.txs).toHaveLength(3);
    const receipts = built!.result.receipts;
    expect(receipts.map((r) => [r.ok, r.code, r.nonceConsumed])).toEqual([
      [true, null, true],
      [false, 'ALREADY_EXISTS', true],
      [true, null, true],
    ]);
    // Every node applies it to the same state: the refused one used its nonce, nothing else.
    const r = await applyBlock(state, built!.block, new Map(), { prevStateHash: tip.stateHash });
    expect(toHex(r.stateHash)).toBe(toHex(built!.block.header.stateHash));
    expect(r.receipts.map((x) => x.code)).toEqual([null, 'ALREADY_EXISTS', null]);
  });

  it('leaves out a transaction past its deadline and reports it as expired', async () => {
    const { mempool, proposer } = setup();
    // Admitted while still valid; the block is built 1 s after genesis, past its deadline.
    await mempool.add(hospitalTx(0, 'late', T0 + 500), T0);
    const { built, rejected } = await proposer.build(1);
    expect(built).toBeNull();
    expect(rejected.map((x) => x.code)).toEqual(['EXPIRED']);
  });

  it('drops speculation when a different block commits at a height in flight', async () => {
    const { mempool, proposer } = setup();
    await mempool.add(hospitalTx(0, 'a'), T0);
    const { built } = await proposer.build(1);
    expect(proposer.committed(1, 'someone-elses-block')).toBeUndefined();
    expect(proposer.inflightCount).toBe(0);
    expect(built).not.toBeNull();
  });
});
