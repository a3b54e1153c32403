/**
 * A node's status as the gateway serves it (`node_status`), assembled from what each part
 * owns: the engine's view, the chain head, catch-up progress, the leader's announced height,
 * the mempool, and the consensus loop. Pure: every input is a value.
 */
import {
  type LogStatus,
  type LoopStatus,
  type NodeStatus,
  type ScrubStatus,
  type SyncStatus,
  toHex,
} from '@ehr/core';
import type { Head } from '@ehr/store';
import type { RaftStatus } from './ports.ts';

export interface StatusInputs {
  name: string;
  chainId: string;
  raft: RaftStatus;
  head: Head;
  sync: SyncStatus | null;
  /** Height the current term's leader announced (0 if none). */
  announced: number;
  peers: number;
  mempool: { txs: number; bytes: number };
  halted: Error | undefined;
  loop: LoopStatus;
  log: LogStatus;
  scrub?: ScrubStatus;
}

export function nodeStatus(i: StatusInputs): NodeStatus {
  const { raft: st, head } = i;
  return {
    name: i.name,
    nodeId: st.id,
    chainId: i.chainId,
    role: st.role,
    term: st.term,
    leader: st.leader,
    height: head.height,
    hash: toHex(head.hash),
    stateHash: toHex(head.stateHash),
    time: head.time,
    // Catching up: a catch-up sync runs, applying trails the commit index it knows of, or
    // this node is more than a couple of blocks below what the leader announced.
    catchingUp: i.sync?.active === true || st.applied < st.commit || i.announced > head.height + 2,
    networkHeight: Math.max(i.announced, head.height),
    commitIndex: st.commit,
    sync: i.sync,
    peers: i.peers,
    validators: st.voters,
    observers: st.learners,
    mempool: i.mempool,
    halted: i.halted ? i.halted.message : null,
    loop: i.loop,
    log: i.log,
    ...(i.scrub ? { scrub: i.scrub } : {}),
  };
}
