/** Erasure support: a committed entry's data can be replaced (same index, term, type). */
import { isEhrError, utf8 } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { RaftNode } from '../src/raft.ts';
import { GENESIS_HASH, makeBlock, testVerifier } from './sim.ts';

/** A one-voter engine that has elected itself (its Readies not handled yet). */
function soloLeader(maxCommittedPerReady?: number): RaftNode {
  const r = new RaftNode({
    id: 'n1',
    initial: { voters: ['n1'], learners: [], removed: [] },
    genesisHash: GENESIS_HASH,
    storage: { entries: [], applied: 0 },
    electionTick: 10,
    heartbeatTick: 2,
    random: () => 0,
    blockVerifier: testVerifier,
    ...(maxCommittedPerReady ? { maxCommittedPerReady } : {}),
  });
  for (let i = 0; i < 30 && r.role !== 'leader'; i++) r.tick();
  return r;
}

describe('redact', () => {
  it('replaces a committed entry in place and refuses anything uncommitted', () => {
    const r = soloLeader();
    expect(r.role).toBe('leader');
    while (r.hasReady()) r.advance(r.ready());
    const i = r.propose(makeBlock(r.term, 'n1', r.lastBlockHash(), 1));
    while (r.hasReady()) r.advance(r.ready());
    expect(r.commit).toBeGreaterThanOrEqual(i);
    const before = r.entry(i)!;
    const redacted = utf8('{"redacted":true}');
    r.redact(i, redacted);
    expect(r.entry(i)).toEqual({ ...before, data: redacted });
    const code = (f: () => void) => {
      try {
        f();
        return 'ok';
      } catch (err) {
        return isEhrError(err) ? err.code : String(err);
      }
    };
    expect(code(() => r.redact(r.commit + 1, redacted))).toBe('CONSENSUS_BAD_ENTRIES');
    expect(code(() => r.redact(0, redacted))).toBe('CONSENSUS_BAD_ENTRIES');
  });
});

describe('maxCommittedPerReady', () => {
  it('hands a committed backlog out in bounded, ordered steps', () => {
    const r = soloLeader(2);
    expect(r.role).toBe('leader');
    // Persist without applying anything: the election's no-op and five blocks pile up.
    let rd = r.ready();
    r.advance({ ...rd, committed: [] });
    let prev = r.lastBlockHash();
    for (let n = 1; n <= 5; n++) {
      r.propose(makeBlock(r.term, 'n1', prev, n));
      prev = r.lastBlockHash();
    }
    const applied: number[] = [];
    for (let i = 0; i < 20 && r.hasReady(); i++) {
      rd = r.ready();
      expect(rd.committed.length).toBeLessThanOrEqual(2);
      applied.push(...rd.committed.map((e) => e.index));
      r.advance(rd);
    }
    expect(applied).toEqual(Array.from({ length: r.lastIndex() }, (_, i) => i + 1));
    expect(r.applied).toBe(r.lastIndex());
  });
});
