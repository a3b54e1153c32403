/**
 * The consensus loop and the transaction intake, wired to each other (they meet only through
 * `leadership`, `wake` and `halted`), and the loop as catch-up sync sees it. One place for what
 * start.ts builds and what tests build around a node without libp2p.
 */
import type { TxDecoder, WireLimits } from '@ehr/ledger';
import type { SyncPort } from './catch-up.ts';
import type { NodeConfig } from './config.ts';
import { serveEntryFetch } from './consensus-inbound.ts';
import { Daemon, type DaemonParts } from './daemon.ts';
import type { Logger } from './logger.ts';
import type { NodeMetrics } from './metrics.ts';
import type { BlockEvent, Network, NodeStore, Raft } from './ports.ts';
import { TxIntake } from './tx-intake.ts';

export interface LoopWiring {
  config: Pick<NodeConfig, 'consensus' | 'mempool' | 'caches'>;
  chainId: string;
  secretKey: Uint8Array;
  /** The genesis limit on one transaction's bytes. */
  maxTxBytes: number;
  wire: WireLimits;
  store: NodeStore;
  network: Pick<
    Network,
    | 'send'
    | 'onConsensusMessage'
    | 'refreshMembership'
    | 'onPeerDisconnected'
    | 'publish'
    | 'subscribe'
    | 'handle'
    | 'request'
  >;
  engine: Raft;
  logger: Logger;
  metrics: NodeMetrics;
  /** The read barrier: intake waits on it before refusing (see TxIntakeDeps.caughtUp). */
  caughtUp?: () => Promise<void>;
  now?: () => number;
  /** How transactions are decoded (default the ledger's; tests count calls). */
  decodeTx?: TxDecoder;
  /** Where intake notes what went out by gossip (the leader's compact entries read it). */
  gossiped?: { add(hashHex: string): void };
  /** Installs a leader's snapshot from members' blocks (see DaemonParts.installer). */
  installer?: DaemonParts['installer'];
}

export interface WiredLoop {
  daemon: Daemon;
  txs: TxIntake;
  onBlock(fn: (e: BlockEvent) => void): () => void;
  /** The loop as catch-up sync uses it; `settleAnnounced` drops an announced height. */
  syncPort(settleAnnounced: () => void): SyncPort;
}

export function wireLoop(w: LoopWiring): WiredLoop {
  const now = { ...(w.now ? { now: w.now } : {}), ...(w.decodeTx ? { decodeTx: w.decodeTx } : {}) };
  let daemon: Daemon | undefined;
  const txs = new TxIntake({
    chainId: w.chainId,
    limits: { ...w.config.mempool, maxTxBytes: w.maxTxBytes, maxBodyBytes: w.wire.txBodyBytes },
    wire: w.wire,
    store: w.store,
    network: w.network,
    leadership: () => {
      const st = w.engine.view();
      return { leader: st.leader, leading: st.role === 'leader' };
    },
    wake: () => daemon?.wake(),
    halted: () => daemon?.halted(),
    ...(w.caughtUp ? { caughtUp: w.caughtUp } : {}),
    logger: w.logger,
    metrics: w.metrics,
    ...(w.gossiped ? { gossiped: w.gossiped } : {}),
    trackerBytes: w.config.caches.txStatusBytes,
    ...now,
  });
  // Followers fetch here the whole entries they cannot fill from their mempool.
  serveEntryFetch(w.network, (from, to) => w.store.raftEntries(from, to));
  const loop = new Daemon({
    config: w.config,
    chainId: w.chainId,
    secretKey: w.secretKey,
    store: w.store,
    network: w.network,
    raft: w.engine,
    txs,
    logger: w.logger,
    metrics: w.metrics,
    wire: w.wire,
    ...(w.installer ? { installer: w.installer } : {}),
    ...now,
  });
  daemon = loop;
  const onBlock = (fn: (e: BlockEvent) => void) => {
    loop.on('block', fn);
    return () => void loop.off('block', fn);
  };
  return {
    daemon: loop,
    txs,
    onBlock,
    syncPort: (settleAnnounced) => ({
      consensus: () => ({ ...loop.consensus.status(), halted: loop.halted() !== undefined }),
      ingestWith: (prepare) => loop.ingestWith(prepare),
      resume: () => loop.resume(),
      onBlock,
      settleAnnounced,
    }),
  };
}
