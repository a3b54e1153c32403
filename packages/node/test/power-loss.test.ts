/**
 * Power loss after compaction: a single validator (daemon, intake, real store and engine) commits
 * transactions one by one with a log tail of 2 entries compacted every 2, so its log is
 * compacted all the time while blocks are applied without a sync. The power is cut right after
 * a random acknowledgment (power-cut.ts: unsynced writes survive only a completed flush); the
 * node restarts on what the disk kept, and every acknowledged transaction must be in its chain:
 * a block lost from the block store is replayed from the log, which compaction never dropped
 * below what a flush made durable. The control runs the same with a compactor told that the
 * in-memory head is durable (no flush): it must lose acknowledged blocks, or this test could not
 * see the difference.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromHex, generateSecretKey, publicKeyOf, seededRandom } from '@ehr/core';
import { makeGenesis } from '@ehr/ledger';
import { Store, verifyStore } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import { until } from './one-node.ts';
import { PowerCut } from './power-cut.ts';
import { boot, hospital } from './validator.ts';

const root = mkdtempSync(join(tmpdir(), 'ehr-power-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * One run: commits until a random acknowledgment, cuts the power there, restarts on what the
 * disk kept. Returns the acknowledged transactions the restarted chain lacks.
 */
async function run(seed: number, trustHead: boolean) {
  const rand = seededRandom(seed);
  const admin = generateSecretKey();
  const key = generateSecretKey();
  const genesis = makeGenesis({
    chainId: 'power-test',
    genesisTime: Date.now() - 1000,
    admins: [publicKeyOf(admin)],
    validators: [publicKeyOf(key)],
  });
  const dir = join(root, `${seed}-${trustHead}`);
  await (await Store.open(dir, genesis)).close();
  cpSync(dir, `${dir}-base`, { recursive: true });
  const store = await Store.open(dir, genesis);
  const power = new PowerCut(store.db);
  const node = await boot(store, genesis, key, { trustHead });
  const acknowledged: string[] = [];
  const cutAfter = 20 + Math.floor(rand() * 20);
  for (let nonce = 0; acknowledged.length < cutAfter; nonce++) {
    const r = await node.txs.submit(hospital(admin, nonce, genesis.chainId), [], 'commit', 5000);
    expect(r.status.status).toBe('committed');
    acknowledged.push(r.hash);
  }
  power.cut();
  const compactedAtCut = store.raft.compactedIndex;
  const appliedAtCut = store.head().applied;
  await node.stop();
  await store.close();
  const disk = power.summary();
  await power.replay(`${dir}-base`, `${dir}-after`);
  const again = await Store.open(`${dir}-after`, genesis);
  try {
    // What the disk kept is consistent on its own (every block, link and state hash).
    await verifyStore(again);
    // The log replays what the block store lost (a node that cannot halts).
    const onDisk = again.head().height;
    const node2 = await boot(again, genesis, key);
    let restarted = false;
    try {
      const { daemon } = node2;
      await until(
        () =>
          daemon.halted() !== undefined || again.head().applied >= daemon.consensus.status().commit,
        10_000,
      );
      restarted = daemon.halted() === undefined;
    } finally {
      await node2.stop();
    }
    const replayed = again.head().height - onDisk;
    const lost: string[] = [];
    for (const h of acknowledged) if (!(await again.receipt(fromHex(h)))) lost.push(h);
    return { lost, restarted, replayed, disk, compactedAtCut, appliedAtCut };
  } finally {
    await again.close();
  }
}

describe('power loss after compaction', () => {
  it('loses no acknowledged block: the log is compacted only below what a flush made durable', async () => {
    let replayed = 0;
    for (const seed of [1, 2, 3]) {
      const r = await run(seed, false);
      replayed += r.replayed;
      // The scenario is the one meant: compaction ran, and the cut lost unsynced writes.
      expect(r.compactedAtCut, `seed ${seed}: compacted`).toBeGreaterThan(0);
      expect(r.disk.lost, `seed ${seed}: writes lost at the cut`).toBeGreaterThan(0);
      expect(r.restarted, `seed ${seed}: restarted`).toBe(true);
      expect(r.lost, `seed ${seed}: acknowledged transactions lost`).toEqual([]);
    }
    // Blocks the cut took from the block store came back from the log.
    expect(replayed).toBeGreaterThan(0);
  }, 120_000);

  it('control: compacting below the in-memory head instead (no flush) loses acknowledged blocks', async () => {
    const r = await run(4, true);
    expect(r.compactedAtCut).toBeGreaterThan(0);
    expect(r.disk.flushes).toBe(0);
    // The blocks are gone from the block store and their entries from the log: the node
    // cannot rebuild its chain, and acknowledged transactions are missing.
    expect(r.restarted).toBe(false);
    expect(r.lost.length).toBeGreaterThan(0);
  }, 60_000);
});
