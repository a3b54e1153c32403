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

  it('concurrent reads share requests, and none takes an answer sent before it arrived', async () => {
    // The leader's commit index moves on between requests; each request is answered when the
    // test says so, with the index at that moment.
    let commit = 10;
    const pending: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
    const b = new ReadBarrier({
      leading: () => false,
      leader: () => 'L',
      commitIndex: () => 0,
      appliedIndex: () => 1_000_000,
      askLeader: () => new Promise((resolve, reject) => pending.push({ resolve, reject })),
      onApplied: () => () => {},
    });
    const target = (b as unknown as { target(ms: number): Promise<number> }).target.bind(b);
    const tick = () => new Promise((r) => setTimeout(r, 5));
    const first = target(1000);
    await tick();
    expect(pending).toHaveLength(1);
    // 200 reads arrive while the first request is out: they wait for one more, not 200.
    commit = 12; // a write acknowledged after the first request left
    const later = Array.from({ length: 200 }, () => target(1000));
    await tick();
    expect(pending).toHaveLength(1);
    pending[0]!.resolve(encode({ index: 11 }));
    expect(await first).toBe(11);
    await tick();
    // The first answer (11) predates them: they get the second request's, sent after it.
    expect(pending).toHaveLength(2);
    const third = target(1000); // arrives while the second is out: waits for a third
    await tick();
    pending[1]!.resolve(encode({ index: commit }));
    expect(new Set(await Promise.all(later))).toEqual(new Set([12]));
    await tick();
    expect(pending).toHaveLength(3);
    pending[2]!.resolve(encode({ index: 13 }));
    expect(await third).toBe(13);
    expect(b.requests).toBe(3);
    // Quiet again: the next read sends at once.
    const alone = target(1000);
    await tick();
    expect(pending).toHaveLength(4);
    pending[3]!.resolve(encode({ index: 14 }));
    expect(await alone).toBe(14);
  });

  it('a failed shared request fails the reads that shared it; the next read asks again', async () => {
    const pending: { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }[] = [];
    let leader = 'L';
    const b = new ReadBarrier({
      leading: () => false,
      leader: () => leader,
      commitIndex: () => 0,
      appliedIndex: () => 1_000_000,
      askLeader: (l) =>
        new Promise((resolve, reject) => {
          pending.push({ resolve, reject });
          if (l !== leader) reject(new Error(`asked ${l}, not the leader ${leader}`));
        }),
      onApplied: () => () => {},
    });
    const tick = () => new Promise((r) => setTimeout(r, 5));
    const first = code(b.wait(1000));
    await tick();
    const queued = Array.from({ length: 5 }, () => code(b.wait(1000)));
    await tick();
    pending[0]!.reject(new Error('The stream has been reset'));
    expect(await first).toBe('NO_LEADER');
    await tick();
    expect(pending).toHaveLength(2);
    pending[1]!.reject(new Error('timed out'));
    expect(await Promise.all(queued)).toEqual(Array(5).fill('NO_LEADER'));
    // A new leader: asked directly, not queued behind the old one's request.
    leader = 'M';
    const again = b.wait(1000);
    await tick();
    expect(pending).toHaveLength(3);
    pending[2]!.resolve(encode({ index: 3 }));
    await again;
    expect(b.requests).toBe(3);
  });
});
