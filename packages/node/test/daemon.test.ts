/**
 * The consensus loop and block apply on a real store and engine: a single validator commits
 * what is submitted (Daemon with TxIntake, as start.ts wires them), and a follower applies
 * committed blocks it is handed - and stops, naming the block, when one is forged or computes
 * to another state.
 */
import {
  decodeTx as coreDecodeTx,
  encodeBlock,
  encodeTx,
  generateSecretKey,
  publicKeyOf,
  sha256,
  signBlock,
  signTx,
  toHex,
  txRootOf,
  utf8,
} from '@ehr/core';
import {
  applyBlock,
  genesisStateHash,
  genesisWrites,
  MapState,
  makeGenesis,
  type TxDecoder,
} from '@ehr/ledger';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBlockEntry, encodeBlockEntry } from '../src/block-entry.ts';
import type { BlockEvent } from '../src/ports.ts';
import { buildLog, hospitalTx, resign, tamperTx } from './log.ts';
import { type OneNode, oneNode, until } from './one-node.ts';

const nodes: OneNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.stop();
});

function hospital(admin: Uint8Array, nonce: number, id: string, chainId: string): Uint8Array {
  return encodeTx(
    signTx(
      {
        chainId,
        author: publicKeyOf(admin),
        nonce,
        kind: 'hospital.register',
        expires: Date.now() + 60_000,
        payload: {
          id,
          name: `hospital ${id}`,
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

async function leader() {
  const admin = generateSecretKey();
  const key = generateSecretKey();
  const genesis = makeGenesis({
    chainId: 'daemon-test',
    genesisTime: Date.now() - 1000,
    admins: [publicKeyOf(admin)],
    validators: [publicKeyOf(key)],
  });
  const n = await oneNode(genesis, key);
  nodes.push(n);
  await until(() => n.daemon.consensus.status().canPropose);
  return { n, admin, genesis };
}

describe('Daemon with TxIntake: submit and commit (single validator)', () => {
  it('commits in commit mode, answers a replay with the original, refuses a used nonce and what the rules refuse', async () => {
    const { n, admin, genesis } = await leader();
    const blocks: BlockEvent[] = [];
    n.daemon.on('block', (b: BlockEvent) => blocks.push(b));
    const tx = hospital(admin, 0, 'h0', genesis.chainId);
    const first = await n.txs.submit(tx, [], 'commit', 5000);
    expect(first.status).toMatchObject({ status: 'committed', ok: true, final: true });
    const height = n.store.head().height;
    expect(height).toBeGreaterThanOrEqual(1);
    // The block event names it, with its author and kind; the mempool is empty again.
    expect(blocks.at(-1)!.receipts).toEqual([
      {
        hash: first.hash,
        author: toHex(publicKeyOf(admin)),
        kind: 'hospital.register',
        ok: true,
        code: null,
      },
    ]);
    expect(blocks.at(-1)!.stateHash).toBe(toHex(n.store.head().stateHash));
    expect(n.txs.mempool.size).toBe(0);
    // It was gossiped once, on the transaction topic.
    expect(n.net.published.filter((p) => p.topic === 'tx')).toHaveLength(1);
    // The exact bytes again: the original's status, flagged, and nothing new committed.
    const again = await n.txs.submit(tx, [], 'commit', 5000);
    expect(again).toMatchObject({
      hash: first.hash,
      status: { status: 'committed', duplicate: true },
    });
    // Another transaction for the used nonce can never commit.
    const other = await n.txs.submit(hospital(admin, 0, 'h-other', genesis.chainId), [], 'commit');
    expect(other.status).toMatchObject({ status: 'rejected', code: 'NONCE_USED', final: true });
    // The rules refuse a non-admin registering a hospital: answered at once, never admitted
    // nor gossiped.
    const stranger = generateSecretKey();
    const refused = await n.txs.submit(hospital(stranger, 0, 'h-x', genesis.chainId), [], 'commit');
    expect(refused.status.status).toBe('rejected');
    expect(refused.status.final).toBe(false);
    expect(refused.status.canCommitUntil).toBeGreaterThan(Date.now());
    expect(n.txs.mempool.size).toBe(0);
    expect(n.net.published.filter((p) => p.topic === 'tx')).toHaveLength(1);
    expect(n.store.head().height).toBe(height);
    // A nonce ahead of the chain waits; once the gap closes both commit, in nonce order.
    const later = await n.txs.submit(hospital(admin, 2, 'h2', genesis.chainId), [], 'async');
    expect(later.status).toMatchObject({ status: 'pending', final: false });
    const gap = await n.txs.submit(hospital(admin, 1, 'h1', genesis.chainId), [], 'commit', 5000);
    expect(gap.status.status).toBe('committed');
    await until(() => n.txs.mempool.size === 0);
    expect((await n.txs.txStatus(later.hash))!.status).toBe('committed');
  }, 30_000);

  it('refuses hostile bytes with a coded error and keeps running: flipped byte, wrong chain, oversize, garbage', async () => {
    const { n, admin, genesis } = await leader();
    const good = hospital(admin, 0, 'h0', genesis.chainId);
    const flipped = good.slice();
    flipped[flipped.length - 5]! ^= 0x01;
    await expect(n.txs.submit(flipped, [], 'commit')).rejects.toMatchObject({
      code: 'BAD_SIGNATURE',
    });
    await expect(
      n.txs.submit(hospital(admin, 0, 'h0', 'another-chain'), [], 'commit'),
    ).rejects.toMatchObject({ code: 'WRONG_CHAIN' });
    const huge = new Uint8Array(genesis.limits.maxTxBytes + 1);
    await expect(n.txs.submit(huge, [], 'commit')).rejects.toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
    });
    await expect(
      n.txs.submit(new Uint8Array([0xff, 0x00, 0x13]), [], 'commit'),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/MALFORMED|ENCODING_INVALID/),
    });
    expect(n.daemon.halted()).toBeUndefined();
    const ok = await n.txs.submit(good, [], 'commit', 5000);
    expect(ok.status.status).toBe('committed');
  }, 30_000);

  it('a pending transaction past its timeout says until when it can still commit (TX_TIMEOUT)', async () => {
    const { n, admin, genesis } = await leader();
    // Nonce 5 waits for 0..4, which never come.
    const tx = hospital(admin, 5, 'h5', genesis.chainId);
    const err = await n.txs.submit(tx, [], 'commit', 300).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TX_TIMEOUT', data: { canCommitUntil: expect.any(Number) } });
    // Still pending here, with the same promise.
    const st = await n.txs.txStatus((err as { data: { hash: string } }).data.hash);
    expect(st).toMatchObject({
      status: 'pending',
      final: false,
      canCommitUntil: expect.any(Number),
    });
  }, 30_000);
});

describe('Daemon apply: a follower handed committed blocks', () => {
  it('applies a real log to the same chain and state, one block event per block', async () => {
    const log = await buildLog(12, 3);
    const n = await oneNode(log.genesis, generateSecretKey(), { learner: true });
    nodes.push(n);
    const heights: number[] = [];
    n.daemon.on('block', (b: BlockEvent) => heights.push(b.height));
    await n.daemon.ingestWith(async () => ({ entries: log.entries, results: new Map() }));
    expect(n.store.head().height).toBe(log.tip.height);
    expect(toHex(n.store.head().stateHash)).toBe(toHex(log.tip.stateHash));
    expect(heights).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    // Every transaction's receipt is on the store and its status final on this node.
    expect(n.daemon.halted()).toBeUndefined();
  }, 30_000);

  it('stops, naming the block, on a committed block with a forged signature', async () => {
    const log = await buildLog(4, 2);
    const n = await oneNode(log.genesis, generateSecretKey(), { learner: true });
    nodes.push(n);
    const entries = log.entries.map((e, i) => (i === 2 ? tamperTx(e) : e));
    const err = await n.daemon
      .ingestWith(async () => ({ entries, results: new Map() }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: expect.stringMatching(/BLOCK_INVALID|TX_ROOT|MISMATCH/) });
    expect(n.daemon.halted()).toBeDefined();
    expect(n.lines.some((l) => l['msg'] === 'consensus loop stopped')).toBe(true);
    // Nothing past the bad block was applied, and a halted node takes no submissions.
    expect(n.store.head().height).toBeLessThan(3);
    await expect(
      n.txs.submit(hospitalTx(log.admin, 100, Date.now() + 60_000), [], 'async'),
    ).rejects.toMatchObject({ code: 'NODE_HALTED' });
  }, 30_000);

  it('stops on a validly signed block that computes to another state (STATE_MISMATCH)', async () => {
    const log = await buildLog(4, 2);
    const n = await oneNode(log.genesis, generateSecretKey(), { learner: true });
    nodes.push(n);
    const lie = new Uint8Array(32).fill(7);
    // The validator itself signs its last block claiming another state hash.
    const last = log.entries.length - 1;
    const entries = log.entries.map((e, i) =>
      i === last ? resign(e, (h) => ({ ...h, stateHash: lie }), log.validator) : e,
    );
    const err = await n.daemon
      .ingestWith(async () => ({ entries, results: new Map() }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_MISMATCH' });
    // Everything before it applied; the lie did not.
    expect(n.store.head().height).toBe(log.tip.height - 1);
    expect(n.daemon.halted()!.message).toMatch(/state/i);
  }, 30_000);
});

/** A decoder that counts how often each transaction (by its bytes) is decoded. */
function countingDecoder() {
  const counts = new Map<string, number>();
  const decodeTx: TxDecoder = (bytes) => {
    const k = toHex(bytes);
    counts.set(k, (counts.get(k) ?? 0) + 1);
    return coreDecodeTx(bytes);
  };
  return { decodeTx, of: (tx: Uint8Array) => counts.get(toHex(tx)) ?? 0 };
}

describe('Daemon: a transaction is decoded and verified once per node', () => {
  it('submitted here: decoded at admission only; the dry run, the block and its application reuse it', async () => {
    const admin = generateSecretKey();
    const key = generateSecretKey();
    const genesis = makeGenesis({
      chainId: 'decode-once',
      genesisTime: Date.now() - 1000,
      admins: [publicKeyOf(admin)],
      validators: [publicKeyOf(key)],
    });
    const c = countingDecoder();
    const n = await oneNode(genesis, key, { decodeTx: c.decodeTx });
    nodes.push(n);
    await until(() => n.daemon.consensus.status().canPropose);
    const txs = [0, 1, 2].map((k) => hospital(admin, k, `h${k}`, genesis.chainId));
    const results = await Promise.all(txs.map((tx) => n.txs.submit(tx, [], 'commit', 5000)));
    for (const r of results) expect(r.status).toMatchObject({ status: 'committed', ok: true });
    expect(txs.map((tx) => c.of(tx))).toEqual([1, 1, 1]);
    // Submitted in one event-loop turn: gossiped as one batch.
    expect(n.net.published.filter((p) => p.topic === 'tx')).toHaveLength(1);
  }, 30_000);

  it('a follower applies what it admitted without decoding it again; what it never saw is decoded once', async () => {
    const log = await buildLog(2, 3);
    const c = countingDecoder();
    const n = await oneNode(log.genesis, generateSecretKey(), {
      learner: true,
      now: () => log.genesis.genesisTime + 1000,
      decodeTx: c.decodeTx,
    });
    nodes.push(n);
    const first = decodeBlockEntry(log.entries.find((e) => e.type === 'block')!.data).block.txs;
    // This node admitted block 1's transactions (as gossip would have brought them).
    for (const tx of first) await n.txs.submit(tx, [], 'async');
    expect(n.txs.mempool.size).toBe(3);
    const blockTxs = log.entries
      .filter((e) => e.type === 'block')
      .flatMap((e) => decodeBlockEntry(e.data).block.txs);
    const before = blockTxs.map((tx) => c.of(tx));
    await n.daemon.ingestWith(async () => ({ entries: log.entries, results: new Map() }));
    expect(toHex(n.store.head().stateHash)).toBe(toHex(log.tip.stateHash));
    const onApply = blockTxs.map((tx, i) => c.of(tx) - before[i]!);
    expect(onApply).toEqual([0, 0, 0, 1, 1, 1]);
    expect(n.txs.mempool.size).toBe(0);
  }, 30_000);

  it('a block whose transaction was tampered is refused even when this node admitted the original', async () => {
    const log = await buildLog(2, 3);
    const n = await oneNode(log.genesis, generateSecretKey(), {
      learner: true,
      now: () => log.genesis.genesisTime + 1000,
    });
    nodes.push(n);
    const at = log.entries.findIndex((e) => e.type === 'block');
    const entry = decodeBlockEntry(log.entries[at]!.data);
    const original = entry.block.txs[0]!;
    await n.txs.submit(original, [], 'async');
    expect(n.txs.mempool.size).toBe(1);
    // The leader swaps in a copy with a damaged signature (same author, nonce and payload: its
    // hash differs from what this node verified), commits to it in the header, signs the
    // header, and claims the state reached by taking it as signed.
    const forged = original.slice();
    forged[forged.length - 1]! ^= 0x01;
    const txs = [forged, ...entry.block.txs.slice(1)];
    const unsigned = { ...entry.block.header, txRoot: txRootOf(txs) };
    // The state a node reaches if it takes the forged transaction as verified.
    const genesisState = new MapState();
    genesisState.applyWrites(genesisWrites(log.genesis));
    const skipped = await applyBlock(
      genesisState,
      { header: unsigned, txs, signature: new Uint8Array(64) },
      entry.payloads,
      {
        prevStateHash: genesisStateHash(log.genesis),
        verified: { has: () => true },
        checkStateHash: false,
      },
    );
    expect(skipped.receipts.every((r) => r.ok)).toBe(true);
    const header = { ...unsigned, stateHash: skipped.stateHash };
    const block = signBlock(header, txs, log.validator);
    // Up to that block (the next one links to the honest header).
    const entries = log.entries
      .slice(0, at + 1)
      .map((e, i) =>
        i === at
          ? { ...e, data: encodeBlockEntry(encodeBlock(block), entry.payloads.values()) }
          : e,
      );
    const err = await n.daemon
      .ingestWith(async () => ({ entries, results: new Map() }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STATE_MISMATCH' });
    expect(n.store.head().height).toBe(0);
  }, 30_000);
});
