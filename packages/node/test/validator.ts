/**
 * A single validator (daemon and intake, as start.ts wires them, on a real store and the engine
 * loaded from it as start.ts loads it) with a log compacted all the time: a tail of 2 entries,
 * compacted every 2. For tests of compaction, restarts and power loss.
 */
import { join } from 'node:path';
import { encodeTx, publicKeyOf, sha256, signTx, toHex, utf8 } from '@ehr/core';
import { type Genesis, makeGenesis, wireLimits } from '@ehr/ledger';
import type { Store } from '@ehr/store';
import { raftPort, storePort } from '../src/adapters.ts';
import { parseConfig } from '../src/config.ts';
import { wireLoop } from '../src/loop-wiring.ts';
import { nodeMetrics } from '../src/metrics.ts';
import type { NodeStore } from '../src/ports.ts';
import { loadEngine } from '../src/raft-load.ts';
import { capturingLogger } from './capture.ts';
import { MemNet } from './mem-net.ts';
import { until } from './one-node.ts';

export function hospital(admin: Uint8Array, nonce: number, chainId: string): Uint8Array {
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

/**
 * A single validator on `store`, leading once started (or halted). `trustHead`: a compactor told
 * the in-memory head is durable (no flush) - the power-loss test's control.
 */
export async function boot(
  store: Store,
  genesis: Genesis,
  key: Uint8Array,
  opts: { trustHead?: boolean; tail?: number; tailBytes?: number; every?: number } = {},
) {
  const trustHead = opts.trustHead === true;
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
        logTailEntries: opts.tail ?? 2,
        ...(opts.tailBytes ? { logTailBytes: opts.tailBytes } : {}),
        compactEveryEntries: opts.every ?? 2,
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
    engine,
    async stop() {
      txs.stop();
      await daemon.stop();
    },
  };
}

/** The same genesis in every process for the same keys (a fixed time). */
export function fixedGenesis(admin: Uint8Array, key: Uint8Array): Genesis {
  return makeGenesis({
    chainId: 'compaction-crash',
    genesisTime: 1_700_000_000_000,
    admins: [publicKeyOf(admin)],
    validators: [publicKeyOf(key)],
  });
}
