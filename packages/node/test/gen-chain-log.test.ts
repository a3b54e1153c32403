/**
 * The chain generator (scripts/bench/gen-chain.ts) leaves the consensus log as a node with
 * compaction would: a snapshot record, stubs for every compacted block entry, only the tail as
 * entries. The engine loads from it at the head, and the full offline check passes, so a daemon
 * started on a generated chain starts as on one it grew itself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockHash } from '@ehr/core';
import { wireLimits } from '@ehr/ledger';
import { Store } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import { generateChain, genGenesis, genNode } from '../../../scripts/bench/gen-chain.ts';
import { decodeBlockEntryBlock } from '../src/block-entry.ts';
import { snapshotHeight } from '../src/compaction.ts';
import { CONFIG_DEFAULTS } from '../src/config.ts';
import { verifyDataDir } from '../src/offline-verify.ts';
import { loadEngine } from '../src/raft-load.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function generate(compact: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-genlog-'));
  dirs.push(dir);
  const genesis = genGenesis();
  const store = await Store.open(dir, genesis);
  const gen = await generateChain(store, {
    patients: 80,
    reports: 3,
    hospitals: 4,
    seed: 3,
    compact,
    // Two entries of tail, compacting every two: several compactions over this short chain.
    logTail: { logTailEntries: 2, logTailBytes: 64 * 1024 * 1024, compactEveryEntries: 2 },
  });
  await store.close();
  return { dir, genesis, gen };
}

describe('gen-chain and the consensus log', () => {
  it('compacts the log as a node does: snapshot, stubs, tail; the engine loads at the head', async () => {
    const { dir, genesis, gen } = await generate(true);
    expect(gen.blocks).toBeGreaterThanOrEqual(5);
    const store = await Store.open(dir, genesis);
    try {
      const compacted = store.raft.compactedIndex;
      // Compacted in steps of two, leaving two entries at least.
      expect(compacted).toBeGreaterThanOrEqual(gen.blocks - 4);
      expect(compacted).toBeLessThanOrEqual(gen.blocks - 2);
      expect(store.raft.firstIndex).toBe(compacted + 1);
      expect(store.raft.lastIndex).toBe(gen.blocks);
      const snap = (await store.raft.snapshot())!;
      expect(snap.index).toBe(compacted);
      expect(snapshotHeight(snap.data)).toBe(compacted);
      expect(snap.membership.voters).toEqual([genNode.hex]);
      expect(snap.lastBlockHash).toEqual(blockHash((await store.block(compacted))!.header));
      // Every compacted entry left its stub (height and bodies named); no entry is left below.
      for (let i = 1; i <= compacted; i++) {
        const stub = await store.raft.stub(i);
        expect(stub?.height).toBe(i);
        expect(stub?.type).toBe('block');
        expect(await store.raft.entries(i, i)).toEqual([]);
      }
      // The tail is whole: each entry the block at its height.
      const tail = await store.raft.entries(compacted + 1, gen.blocks);
      expect(tail.map((e) => decodeBlockEntryBlock(e.data).block.header.height)).toEqual(
        tail.map((e) => e.index),
      );
      const engine = await loadEngine(
        { consensus: CONFIG_DEFAULTS.consensus },
        {
          nodeId: genNode.hex,
          genesis,
          wire: wireLimits(genesis.limits),
          store,
        },
      );
      expect(engine.currentSnapshot()?.index).toBe(compacted);
      expect(engine.firstIndex()).toBe(compacted + 1);
      expect(engine.lastIndex()).toBe(gen.blocks);
      expect(engine.hardState().commit).toBe(gen.blocks);
      expect(engine.lastBlockHash()).toEqual(store.head().hash);
    } finally {
      await store.close();
    }
    const report = await verifyDataDir(dir);
    expect(report.height).toBe(gen.blocks);
    expect(report.txs).toBe(gen.txs);
  }, 120_000);

  it('with compact: false keeps the whole log, the same chain', async () => {
    const a = await generate(false);
    const b = await generate(true);
    const sa = await Store.open(a.dir, a.genesis);
    const sb = await Store.open(b.dir, b.genesis);
    try {
      expect(sa.raft.compactedIndex).toBe(0);
      expect(sa.raft.firstIndex).toBe(1);
      expect((await sa.raft.entries(1, a.gen.blocks)).length).toBe(a.gen.blocks);
      expect(sa.head().hash).toEqual(sb.head().hash);
    } finally {
      await sa.close();
      await sb.close();
    }
  }, 120_000);
});
