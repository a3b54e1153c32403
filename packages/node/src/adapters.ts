/** Binds the real engine, store and host to the daemon's ports. */
import {
  type BlockVerifier,
  decodeConfChange,
  decodeMessage,
  encodeMessage,
  type Message,
  type RaftNode,
  type Ready,
} from '@ehr/consensus';
import { blockHash, equalBytes, toHex, verifyBlockSignature } from '@ehr/core';
import { type Store, servedBlockBytes, servedPayload } from '@ehr/store';
import { decodeBlockEntryBlock } from './block-entry.ts';
import { servedEntries } from './log-source.ts';
import type { NodeStore, Raft, RaftReady } from './ports.ts';

/** What a follower checks on every block entry it appends (see @ehr/consensus). */
export const blockVerifier: BlockVerifier = {
  check(data, ctx) {
    let entry: ReturnType<typeof decodeBlockEntryBlock>;
    try {
      entry = decodeBlockEntryBlock(data);
    } catch (err) {
      return `block entry does not decode: ${(err as Error).message}`;
    }
    const h = entry.block.header;
    if (h.term !== ctx.term) return `block names term ${h.term}, entry is term ${ctx.term}`;
    if (ctx.leader !== null && toHex(h.proposer) !== ctx.leader)
      return 'block is not signed by the term leader';
    if (!equalBytes(h.prevHash, ctx.prevHash)) return 'block does not link to the previous block';
    if (!verifyBlockSignature(entry.block)) return 'proposer signature does not verify';
    return undefined;
  },
  hashOf: (data) => blockHash(decodeBlockEntryBlock(data).block.header),
};

/**
 * `outgoing` rewrites each message before it is encoded (the leader's compact block entries,
 * see compact-entry.ts).
 */
export function raftPort(raft: RaftNode, o: { outgoing?: (m: Message) => Message } = {}): Raft {
  const out = o.outgoing ?? ((m: Message) => m);
  return {
    tick: () => raft.tick(),
    step(from, bytes) {
      const m = decodeMessage(bytes);
      // The transport authenticated the sender; a message claiming another sender is dropped.
      if (m.from !== from) return;
      raft.step(m);
    },
    stepMessage(from, m) {
      if (m.from !== from) return;
      raft.step(m);
    },
    proposeBlock: (data) => void raft.propose(data),
    proposeMembership: (change) => void raft.proposeConfChange(change),
    applyConfig: (entry) => decodeConfChange(entry.data),
    acceptCommitted: (entries) => raft.acceptCommitted(entries),
    redact: (index, data) => raft.redact(index, data),
    transferLeadership: (to) => raft.transferLeadership(to),
    leaderLost: (id) => raft.leaderLost(id),
    membership: () => raft.membership,
    leaving: () => raft.leavingMembers(),
    compact: (index, hash, data) => raft.compact(index, hash, data),
    lastBlockHashAt: (index) => raft.lastBlockHashAt(index),
    snapshot: () => raft.currentSnapshot(),
    entry: (index) => raft.entry(index),
    hasReady: () => raft.hasReady(),
    ready(): RaftReady {
      const rd = raft.ready();
      return {
        raw: rd,
        ...(rd.hardState ? { hardState: rd.hardState } : {}),
        entries: rd.entries,
        messages: rd.messages.map((m) => ({ to: m.to, bytes: encodeMessage(out(m)) })),
        committed: rd.committed,
        ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
      };
    },
    advance: (rd) => raft.advance(rd.raw as Ready),
    view: () => ({
      term: raft.term,
      leader: raft.leader,
      role: raft.isVoter() ? raft.role : 'learner',
      commit: raft.commit,
      canPropose: raft.canPropose(),
    }),
    status: () => ({
      id: raft.id,
      term: raft.term,
      leader: raft.leader,
      role: raft.isVoter() ? raft.role : 'learner',
      commit: raft.commit,
      applied: raft.applied,
      voters: [...raft.membership.voters],
      learners: [...raft.membership.learners],
      removed: [...raft.membership.removed],
      canPropose: raft.canPropose(),
      progress: raft.progressOf(),
    }),
  };
}

export function storePort(store: Store): NodeStore {
  return {
    state: store.state,
    head: () => store.head(),
    saveRaft: (entries, hs) => store.raft.save(entries, hs),
    // The consensus log in the same store is synced first, and compacted only below what a
    // flush made durable (compaction.ts): a block lost to a power cut is re-applied from it.
    commitBlock: (c) => store.commitBlock({ ...c, durable: false }),
    setApplied: (i, stub) => store.setApplied(i, stub),
    raftEntries: (from, to) => store.raft.entries(from, to),
    raftTermAt: (i) => store.raft.termAt(i),
    servedEntries: (from, to) => servedEntries(store, from, to),
    flush: () => store.flush(),
    durable: () => store.durable(),
    compactedIndex: () => store.raft.compactedIndex,
    compactLog: (snapshot, opts) => store.raft.compact(snapshot, opts),
    stub: (i) => store.raft.stub(i),
    // What leaves the store for others is verified first (served.ts).
    blockByHeight: (h) => servedBlockBytes(store, h),
    receipt: (h) => store.receipt(h),
    payload: (h) => servedPayload(store, h),
    payloadEntryIndex: (h) => store.payloadEntryIndex(h),
    close: () => store.close(),
  };
}
