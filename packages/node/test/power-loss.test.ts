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
import {
  encodeTx,
  fromHex,
  generateSecretKey,
  publicKeyOf,
  seededRandom,
  sha256,
  signTx,
  toHex,
  utf8,
} from '@ehr/core';
import { type Genesis, makeGenesis, wireLimits } from '@ehr/ledger';
import { Store, verifyStore } from '@ehr/store';
import { afterAll, describe, expect, it } from 'vitest';
import { raftPort, storePort } from '../src/adapters.ts';
import { parseConfig } from '../src/config.ts';
import { wireLoop } from '../src/loop-wiring.ts';
import { nodeMetrics } from '../src/metrics.ts';
import type { NodeStore } from '../src/ports.ts';
import { loadEngine } from '../src/raft-load.ts';
import { capturingLogger } from './capture.ts';
import { MemNet } from './mem-net.ts';
import { until } from './one-node.ts';
import { PowerCut } from './power-cut.ts';

const root = mkdtempSync(join(tmpdir(), 'ehr-power-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function hospital(admin: Uint8Array, nonce: number, chainId: string): Uint8Array {
  return encodeTx(
    signTx(
      {
        chainId,
        author: publicKeyOf(admin),
        nonce,
        kind: 'hospital.register',
        expires: Date.now() + 120_000,
        payload: {
          id: `h${nonce}`,
          name: `hospital ${nonce}`,
          address: '1 road',
          specializations: ['cardiology'],
          contact: 'desk@example.org',
          nodes: [],
          encryptionKey: sha256(utf8(`h${nonce}`)),
        },
      },
      admin,
    ),
  );
}

/** A single validator on `store`; `trustHead`: the control's compactor (no flush). */
async function boot(store: Store, genesis: Genesis, key: Uint8Array, trustHead = false) {
  const id = toHex(publicKeyOf(key));
  const config = parseConfig(
    {
      name: 'power',
      dataDir: store.db.dir,
      keyFile: 'k',
      genesisFile: 'g',
      p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      consensus: {
        tickMs: 10,
        electionTicks: 4,
        heartbeatTicks: 1,
        logTailEntries: 2,
        compactEveryEntries: 2,
      },
    },
    join(store.db.dir, 'node.yaml'),
  );
  const wire = wireLimits(genesis.limits);
  const engine = await loadEngine(config, { nodeId: id, genesis, wire, store });
  const real = storePort(store);
  const port: NodeStore = trustHead ? { ...real, durable: () => store.head() } : real;
  const { logger } = capturingLogger('warn');
  const { daemon, txs } = wireLoop({
    config,
    chainId: genesis.chainId,
    secretKey: key,
    maxTxBytes: genesis.limits.maxTxBytes,
    wire,
    store: port,
    network: new MemNet(id, new Map()),
    engine: raftPort(engine),
    logger,
    metrics: nodeMetrics(),
  });
  txs.start();
  daemon.start();
  // A single validator leads at once (or halts, when its log cannot rebuild its chain).
  await until(() => daemon.consensus.status().canPropose || daemon.halted() !== undefined, 10_000);
  return {
    daemon,
    txs,
    async stop() {
      txs.stop();
      await daemon.stop();
    },
  };
}

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
  const node = await boot(store, genesis, key, trustHead);
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
