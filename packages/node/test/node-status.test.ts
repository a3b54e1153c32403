import { sha256, utf8 } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { nodeStatus, type StatusInputs } from '../src/node-status.ts';

const base = (): StatusInputs => ({
  name: 'n1',
  chainId: 'c',
  raft: {
    id: 'me',
    term: 7,
    leader: 'L',
    role: 'follower',
    commit: 40,
    applied: 40,
    voters: ['L', 'me'],
    learners: ['o'],
    removed: [],
    canPropose: false,
    progress: {},
  },
  head: { height: 20, hash: sha256(utf8('h')), stateHash: sha256(utf8('s')), time: 5, applied: 40 },
  sync: null,
  announced: 0,
  peers: 2,
  mempool: { txs: 1, bytes: 300 },
  halted: undefined,
  loop: { stage: 'idle', busyMs: 0, inflightBlocks: 0, paused: false },
  log: { compactedIndex: 10, firstIndex: 11, lastIndex: 40, durableHeight: 18 },
});

describe('nodeStatus', () => {
  it('is caught up when applied = commit and the announced height is within two blocks', () => {
    const s = nodeStatus({ ...base(), announced: 22 });
    expect(s).toMatchObject({
      catchingUp: false,
      networkHeight: 22,
      height: 20,
      validators: ['L', 'me'],
      observers: ['o'],
    });
    expect(s.halted).toBeNull();
  });

  it('is catching up while applying trails commit, a sync runs, or the leader announced far ahead', () => {
    const b = base();
    expect(nodeStatus({ ...b, raft: { ...b.raft, commit: 41 } }).catchingUp).toBe(true);
    expect(nodeStatus({ ...b, announced: 23 }).catchingUp).toBe(true);
    const sync = {
      active: true,
      targetIndex: 90,
      target: 50,
      index: 40,
      height: 20,
      batches: 1,
      peers: {},
      refused: {},
      startedAt: 1,
      finishedAt: null,
      error: null,
    };
    expect(nodeStatus({ ...b, sync }).catchingUp).toBe(true);
    // The network height never shows below this node's own.
    expect(nodeStatus({ ...b, announced: 3 }).networkHeight).toBe(20);
  });

  it('says why it halted', () => {
    expect(nodeStatus({ ...base(), halted: new Error('state mismatch at 21') }).halted).toBe(
      'state mismatch at 21',
    );
  });
});
