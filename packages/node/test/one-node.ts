/**
 * One node's consensus loop and intake on a real store and engine, over an in-process transport
 * (mem-net.ts): what start.ts wires, without libp2p, for unit tests of the daemon and intake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode } from '@ehr/consensus';
import { publicKeyOf, toHex } from '@ehr/core';
import { type Genesis, genesisBlockHash, type TxDecoder, wireLimits } from '@ehr/ledger';
import { Store } from '@ehr/store';
import { blockVerifier, raftPort, storePort } from '../src/adapters.ts';
import { parseConfig } from '../src/config.ts';
import type { Daemon } from '../src/daemon.ts';
import { wireLoop } from '../src/loop-wiring.ts';
import { nodeMetrics } from '../src/metrics.ts';
import type { TxIntake } from '../src/tx-intake.ts';
import { capturingLogger } from './capture.ts';
import { MemNet } from './mem-net.ts';

export interface OneNode {
  id: string;
  store: Store;
  daemon: Daemon;
  txs: TxIntake;
  net: MemNet;
  lines: Record<string, unknown>[];
  metrics: ReturnType<typeof nodeMetrics>;
  stop(): Promise<void>;
}

export async function oneNode(
  genesis: Genesis,
  key: Uint8Array,
  opts: { learner?: boolean; now?: () => number; decodeTx?: TxDecoder } = {},
): Promise<OneNode> {
  const dir = mkdtempSync(join(tmpdir(), 'ehr-daemon-'));
  const store = await Store.open(dir, genesis);
  const id = toHex(publicKeyOf(key));
  const net = new MemNet(id, new Map());
  const raft = new RaftNode({
    id,
    initial: {
      voters: [...genesis.validators],
      learners: opts.learner ? [id] : [...genesis.observers],
      removed: [],
    },
    genesisHash: genesisBlockHash(genesis),
    storage: { entries: [], applied: 0 },
    electionTick: 5,
    heartbeatTick: 1,
    random: Math.random,
    blockVerifier,
  });
  const config = parseConfig(
    {
      name: 'one',
      dataDir: dir,
      keyFile: 'k',
      genesisFile: 'g',
      p2p: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      consensus: { tickMs: 10 },
    },
    join(dir, 'node.yaml'),
  );
  const { logger, lines } = capturingLogger('debug');
  const metrics = nodeMetrics();
  const { daemon: loop, txs } = wireLoop({
    config,
    chainId: genesis.chainId,
    secretKey: key,
    maxTxBytes: genesis.limits.maxTxBytes,
    wire: wireLimits(genesis.limits),
    store: storePort(store),
    network: net,
    engine: raftPort(raft),
    logger,
    metrics,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.decodeTx ? { decodeTx: opts.decodeTx } : {}),
  });
  txs.start();
  loop.start();
  return {
    id,
    store,
    daemon: loop,
    txs,
    net,
    lines,
    metrics,
    async stop() {
      txs.stop();
      await loop.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
