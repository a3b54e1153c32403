import { decode, encode, isEhrError } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { ReadBarrier } from '../src/read-barrier.ts';

function setup(o: { leading?: boolean; leader?: string | null; commit: number; applied: number }) {
  const listeners = new Set<() => void>();
  const state = { applied: o.applied, asked: [] as string[] };
  const leaderBarrier = new ReadBarrier({
    leading: () => true,
    leader: () => 'L',
    commitIndex: () => o.commit,
    appliedIndex: () => o.commit,
    askLeader: async () => new Uint8Array(),
    onApplied: () => () => {},
  });
  const b = new ReadBarrier({
    leading: () => o.leading ?? false,
    leader: () => (o.leader === undefined ? 'L' : o.leader),
    commitIndex: () => o.commit,
    appliedIndex: () => state.applied,
    askLeader: async (l) => {
      state.asked.push(l);
      return leaderBarrier.answer();
    },
    onApplied: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  });
  const apply = (to: number) => {
    state.applied = to;
    for (const l of listeners) l();
  };
  return { b, state, apply, listeners };
}

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return isEhrError(err) ? err.code : String(err);
  }
};

describe('read barrier', () => {
  it('a follower waits until it applied what the leader had committed', async () => {
    const { b, state, apply, listeners } = setup({ commit: 10, applied: 7 });
    let done = false;
    const w = b.wait(2000).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    apply(9);
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toBe(false);
    apply(10);
    await w;
    expect(state.asked).toEqual(['L']);
    expect(listeners.size).toBe(0);
  });

  it('times out with a clear error when the node cannot catch up', async () => {
    const { b } = setup({ commit: 10, applied: 7 });
    expect(await code(b.wait(100))).toBe('NOT_READY');
  });

  it('refuses when there is no leader, and a non-leader refuses to vouch', async () => {
    expect(await code(setup({ leader: null, commit: 1, applied: 1 }).b.wait(100))).toBe(
      'NO_LEADER',
    );
    const follower = setup({ commit: 5, applied: 5 }).b;
    expect(() => follower.answer()).toThrow(/not the leader/);
  });

  it('the leader reads its own commit index', async () => {
    const { b, state } = setup({ leading: true, commit: 4, applied: 4 });
    await b.wait(100);
    expect(state.asked).toEqual([]);
    expect(decode(encode({ index: 4 }))).toEqual({ index: 4 });
  });
});
