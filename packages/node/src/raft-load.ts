/**
 * The consensus engine as the store left it: the hard state, the snapshot record (the index the
 * log was compacted to, its membership and last block hash) and only the log after it - the
 * tail kept for slow followers and what is not applied yet, never the whole chain. A node that
 * stopped while installing a snapshot starts with its applied index below the snapshot's: the
 * daemon downloads the blocks up to it first (snapshot-install.ts).
 */
import { RaftNode } from '@ehr/consensus';
import { type Genesis, genesisBlockHash, type WireLimits } from '@ehr/ledger';
import type { Store } from '@ehr/store';
import { blockVerifier } from './adapters.ts';
import type { NodeConfig } from './config.ts';

export async function loadEngine(
  config: Pick<NodeConfig, 'consensus'>,
  c: { nodeId: string; genesis: Genesis; wire: WireLimits; store: Store },
): Promise<RaftNode> {
  const { store, genesis } = c;
  const stored = await store.raft.hardState();
  const snapshot = await store.raft.snapshot();
  const from = Math.max(store.raft.firstIndex, (snapshot?.index ?? 0) + 1);
  return new RaftNode({
    id: c.nodeId,
    initial: { voters: [...genesis.validators], learners: [...genesis.observers], removed: [] },
    genesisHash: genesisBlockHash(genesis),
    storage: {
      ...(stored ? { hardState: stored } : {}),
      ...(snapshot ? { snapshot } : {}),
      entries:
        from <= store.raft.lastIndex ? await store.raft.entries(from, store.raft.lastIndex) : [],
      applied: store.head().applied,
    },
    electionTick: config.consensus.electionTicks,
    heartbeatTick: config.consensus.heartbeatTicks,
    random: Math.random,
    blockVerifier,
    // A node far behind applies its backlog in steps and answers the leader in between.
    maxCommittedPerReady: 32,
    // One append carries at most one block entry's worth of data: it fits a frame.
    maxBytesPerMsg: c.wire.entryBytes,
  });
}
