/**
 * Terms, indexes and commits have a range the engine's arithmetic cannot overflow: decoding
 * refuses a message beyond it (a member once sent term 2^53-1 and every node halted for good,
 * as term + 1 could no longer be encoded), and append messages stay within a byte budget.
 */
import { type EhrError, isEhrError } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { decodeEntries, decodeMessage, encodeEntries, encodeMessage } from '../src/codec.ts';
import { RaftNode } from '../src/raft.ts';
import { MAX_LOG_POSITION, type Message } from '../src/types.ts';
import { GENESIS_HASH, makeBlock, testVerifier } from './sim.ts';

const base: Message = {
  type: 'append',
  from: 'n2',
  to: 'n1',
  term: 3,
  index: 4,
  logTerm: 2,
  entries: [],
  commit: 4,
  reject: false,
  hintIndex: 0,
  hintTerm: 0,
  transfer: false,
  snapshot: null,
};

function codeOf(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (err) {
    return isEhrError(err) ? err.code : (err as Error).message;
  }
}

describe('ranges', () => {
  it('refuses any term, index, commit or hint beyond 2^48 at decoding, and accepts the bound', () => {
    for (const field of ['term', 'index', 'logTerm', 'commit', 'hintIndex', 'hintTerm'] as const) {
      expect(
        codeOf(() => decodeMessage(encodeMessage({ ...base, [field]: MAX_LOG_POSITION }))),
      ).toBe('ok');
      for (const v of [MAX_LOG_POSITION + 1, 2 ** 52, Number.MAX_SAFE_INTEGER]) {
        expect(
          codeOf(() => decodeMessage(encodeMessage({ ...base, [field]: v }))),
          field,
        ).toBe('CONSENSUS_OUT_OF_RANGE');
      }
    }
    const entry = {
      index: MAX_LOG_POSITION + 1,
      term: 1,
      type: 'noop' as const,
      data: new Uint8Array(),
    };
    expect(codeOf(() => decodeEntries(encodeEntries([entry])))).toBe('CONSENSUS_OUT_OF_RANGE');
    // The encoder cannot even write 2^53: what the halted nodes tripped over.
    expect(codeOf(() => encodeMessage({ ...base, term: 2 ** 53 }))).toBe('ENCODING_INVALID');
  });

  it('refuses append entries that do not follow the message index, or whose terms fall or pass the message term', () => {
    const e = (index: number, term: number) => ({
      index,
      term,
      type: 'noop' as const,
      data: new Uint8Array(),
    });
    const ok = { ...base, entries: [e(5, 2), e(6, 3)] };
    expect(codeOf(() => decodeMessage(encodeMessage(ok)))).toBe('ok');
    for (const entries of [
      [e(6, 2)],
      [e(5, 2), e(7, 3)],
      [e(5, 1)],
      [e(5, 3), e(6, 2)],
      [e(5, 4)],
    ]) {
      expect(codeOf(() => decodeMessage(encodeMessage({ ...base, entries })))).toBe(
        'ENCODING_INVALID',
      );
    }
  });

  it('a stored term beyond the range is refused at start with what to do', () => {
    const err = (() => {
      try {
        new RaftNode({
          id: 'n1',
          initial: { voters: ['n1'], learners: [], removed: [] },
          genesisHash: GENESIS_HASH,
          storage: {
            hardState: { term: Number.MAX_SAFE_INTEGER, vote: null, commit: 0 },
            entries: [],
          },
          electionTick: 10,
          heartbeatTick: 2,
          random: () => 0,
        });
      } catch (e) {
        return e as EhrError;
      }
      return undefined;
    })();
    expect(err?.code).toBe('CONSENSUS_STORAGE');
    expect(err?.message).toMatch(/resync/);
  });

  it('an append carries at most maxBytesPerMsg of entry data, always at least one entry', () => {
    const nodes = ['n1', 'n2'].map(
      (id) =>
        new RaftNode({
          id,
          initial: { voters: ['n1', 'n2'], learners: [], removed: [] },
          genesisHash: GENESIS_HASH,
          storage: { entries: [] },
          electionTick: 10,
          heartbeatTick: 2,
          random: () => (id === 'n1' ? 0 : 0.99),
          blockVerifier: testVerifier,
          maxBytesPerMsg: 250,
        }),
    );
    const [a, b] = nodes as [RaftNode, RaftNode];
    const sizes: number[][] = [];
    const pump = () => {
      for (let round = 0; round < 50; round++) {
        let moved = false;
        for (const [n, other] of [
          [a, b],
          [b, a],
        ] as const) {
          while (n.hasReady()) {
            const rd = n.ready();
            for (const m of rd.messages) {
              if (m.type === 'append' && m.entries.length > 0)
                sizes.push(m.entries.map((e) => e.data.length));
              other.step(decodeMessage(encodeMessage(m)));
              moved = true;
            }
            n.advance(rd);
          }
        }
        if (!moved) return;
      }
    };
    for (let i = 0; i < 40 && a.role !== 'leader'; i++) {
      a.tick();
      pump();
    }
    expect(a.role).toBe('leader');
    // Cut n2 off while blocks pile up, then let it catch up in budgeted appends.
    for (let n = 1; n <= 6; n++) a.propose(makeBlock(a.term, 'n1', a.lastBlockHash(), n));
    while (a.hasReady()) a.advance(a.ready());
    sizes.length = 0;
    // The dropped appends are resent once the follower acknowledged nothing for
    // retransmitTicks (2 x electionTick by default), then in budgeted appends.
    for (let i = 0; i < 40; i++) {
      a.tick();
      pump();
    }
    expect(b.commit).toBe(a.commit);
    expect(b.commit).toBeGreaterThanOrEqual(7);
    expect(sizes.length).toBeGreaterThan(1);
    for (const s of sizes) {
      const total = s.reduce((x, y) => x + y, 0);
      expect(s.length === 1 || total <= 250).toBe(true);
    }
  });

  it('flow control: unacknowledged entry bytes to a follower stay within maxInflightBytes; heartbeats never resend entries; lost ones are resent after retransmitTicks, backing off', () => {
    const make = (id: string) =>
      new RaftNode({
        id,
        initial: { voters: ['n1', 'n2'], learners: [], removed: [] },
        genesisHash: GENESIS_HASH,
        storage: { entries: [] },
        electionTick: 10,
        heartbeatTick: 2,
        random: () => (id === 'n1' ? 0 : 0.99),
        blockVerifier: testVerifier,
        maxBytesPerMsg: 250,
        maxInflightBytes: 500,
        retransmitTicks: 8,
        // The leader keeps leading while its only follower is silent (what is measured here is
        // what it sends meanwhile).
        checkQuorum: false,
      });
    const a = make('n1');
    const b = make('n2');
    let deliver = true;
    /** Entry bytes of each append a sent to b, with the tick it was sent at. */
    const sent: { tick: number; bytes: number; first: number }[] = [];
    let tick = 0;
    const pump = () => {
      for (let round = 0; round < 50; round++) {
        let moved = false;
        while (a.hasReady()) {
          const rd = a.ready();
          for (const m of rd.messages) {
            if (m.type === 'append' && m.entries.length > 0)
              sent.push({
                tick,
                bytes: m.entries.reduce((n, e) => n + e.data.length, 0),
                first: m.entries[0]!.index,
              });
            if (deliver) b.step(decodeMessage(encodeMessage(m)));
            moved = true;
          }
          a.advance(rd);
        }
        while (b.hasReady()) {
          const rd = b.ready();
          for (const m of rd.messages) {
            if (deliver) a.step(decodeMessage(encodeMessage(m)));
            moved = true;
          }
          b.advance(rd);
        }
        if (!moved) return;
      }
    };
    for (let i = 0; i < 40 && a.role !== 'leader'; i++) {
      a.tick();
      pump();
    }
    expect(a.role).toBe('leader');
    // The follower stops acknowledging (its answers and our appends are lost) while ten blocks
    // of ~100 bytes pile up, and the leader heartbeats for 60 ticks.
    deliver = false;
    sent.length = 0;
    for (let n = 1; n <= 10; n++) a.propose(makeBlock(a.term, 'n1', a.lastBlockHash(), n));
    pump();
    for (tick = 1; tick <= 60; tick++) {
      a.tick();
      pump();
    }
    // First send: only what fits the in-flight budget (at least one append always goes).
    const firstBurst = sent.filter((s) => s.tick === 0);
    expect(firstBurst.reduce((n, s) => n + s.bytes, 0)).toBeLessThanOrEqual(500);
    // Heartbeats (every 2 ticks) carried no entries: entries went again only on retransmission,
    // after 8 ticks without progress, then 16, then 32 (doubling, capped at 4 x).
    const resendTicks = [...new Set(sent.filter((s) => s.tick > 0).map((s) => s.tick))];
    expect(resendTicks).toEqual([8, 24, 56]);
    for (const t of resendTicks) {
      const burst = sent.filter((s) => s.tick === t);
      // A resend is one probe from the last acknowledged index, within the per-message budget.
      expect(burst).toHaveLength(1);
      expect(burst[0]!.bytes).toBeLessThanOrEqual(250);
    }
    // The follower answers again: everything commits, in budgeted appends.
    deliver = true;
    for (tick = 61; tick <= 140 && b.commit < a.lastIndex(); tick++) {
      a.tick();
      pump();
    }
    expect(b.commit).toBe(a.lastIndex());
    expect(a.commit).toBe(a.lastIndex());
  });
});
