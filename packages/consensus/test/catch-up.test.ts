/**
 * Catch-up sync in the engine: a follower takes committed entries served by a member
 * (acceptCommitted), persists them through Ready, applies each once, and the leader's
 * replication continues from there. Plus the seeded schedules with catch-up events mixed in.
 */
import { describe, expect, it } from 'vitest';
import { decodeEntries, encodeEntries } from '../src/codec.ts';
import { RaftNode } from '../src/raft.ts';
import type { Entry, HardState } from '../src/types.ts';
import { runSchedule } from './schedule.ts';
import { GENESIS_HASH, identityOf, makeBlock, Sim, testVerifier } from './sim.ts';

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

function run(sim: Sim, ticks: number, until?: () => boolean): void {
  for (let i = 0; i < ticks; i++) {
    sim.step();
    if (until?.()) return;
  }
}

function leaderOf(sim: Sim): string {
  run(sim, 300, () => sim.leader() !== undefined);
  const l = sim.leader();
  if (!l) throw new Error('no leader');
  return l.id;
}

/** Proposes `n` blocks and runs until the leader has applied them all. */
function commitBlocks(sim: Sim, n: number): void {
  for (let i = 0; i < n; i++) {
    expect(sim.propose()).toBe(true);
    sim.step();
  }
  run(sim, 300, () => {
    const l = sim.leader()!.raft;
    return l.applied === l.lastIndex();
  });
}

interface Disk {
  hardState: HardState | undefined;
  entries: Entry[];
  applied: number;
}

/** Handles Ready as the node does: persist, (drop messages), apply, advance. */
function drain(raft: RaftNode, disk: Disk, applied: Entry[]): void {
  while (raft.hasReady()) {
    const rd = raft.ready();
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      disk.entries = [...disk.entries.filter((e) => e.index < first), ...rd.entries];
    }
    if (rd.hardState) disk.hardState = rd.hardState;
    for (const e of rd.committed) {
      // Applied only once durable.
      expect(disk.entries.some((d) => d.index === e.index && d.term === e.term)).toBe(true);
      applied.push(e);
      disk.applied = e.index;
    }
    raft.advance(rd);
  }
}

function build(id: string, disk: Disk): RaftNode {
  return new RaftNode({
    id,
    initial: { voters: IDS, learners: [], removed: [] },
    genesisHash: GENESIS_HASH,
    storage: {
      ...(disk.hardState ? { hardState: disk.hardState } : {}),
      entries: disk.entries,
      applied: disk.applied,
    },
    electionTick: 10,
    heartbeatTick: 2,
    random: () => 0.5,
    blockVerifier: testVerifier,
  });
}

const logOf = (raft: RaftNode, from: number, to: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => raft.entry(from + i)!);

describe('catch-up sync (acceptCommitted)', () => {
  it('a follower that missed many entries takes them in batches, applies each once, and replication continues from there', () => {
    const sim = new Sim(11, IDS);
    leaderOf(sim);
    commitBlocks(sim, 2);
    const behind = IDS.find((id) => id !== sim.leader()!.id)!;
    sim.crash(behind);
    commitBlocks(sim, 60);
    const leader = sim.leader()!;
    const target = leader.raft.applied;
    // The node restarts from its disk, hears nothing from the network while it syncs.
    const node = sim.nodes.get(behind)!;
    const disk: Disk = { ...node.stored };
    const raft = build(behind, disk);
    const startApplied = raft.applied;
    expect(target - startApplied).toBeGreaterThan(60);
    const applied: Entry[] = [];
    for (let from = startApplied + 1; from <= target; from += 16) {
      const batch = logOf(leader.raft, from, Math.min(from + 15, target));
      // Served over the wire.
      raft.acceptCommitted(decodeEntries(encodeEntries(batch)));
      drain(raft, disk, applied);
    }
    expect(applied.map((e) => e.index)).toEqual(
      Array.from({ length: target - startApplied }, (_, i) => startApplied + 1 + i),
    );
    expect(applied.map(identityOf)).toEqual(
      logOf(leader.raft, startApplied + 1, target).map(identityOf),
    );
    expect(raft.commit).toBe(target);
    expect(disk.hardState!.commit).toBe(target);
    expect(raft.term).toBe(leader.raft.term);
    // Restarted from that disk, nothing is applied again.
    const again = build(behind, disk);
    expect(again.applied).toBe(target);
    expect(again.commit).toBe(target);
    expect(again.hasReady()).toBe(false);
    // Back in the network (with the synced disk), the leader's append matches at once.
    node.stored = {
      ...disk,
      snapshot: undefined,
      // Its block store: what it applied before, and what sync brought.
      blocks: new Map([...node.stored.blocks, ...applied.map((e) => [e.index, e] as const)]),
    };
    sim.restart(behind);
    commitBlocks(sim, 1);
    run(sim, 50, () => sim.nodes.get(behind)!.raft.commit === sim.leader()!.raft.commit);
    expect(sim.nodes.get(behind)!.raft.commit).toBe(sim.leader()!.raft.commit);
    expect(sim.nodes.get(behind)!.stored.applied).toBe(sim.leader()!.raft.applied);
  });

  it("replaces a conflicting uncommitted suffix (a deposed leader's blocks) and never applies it", () => {
    const sim = new Sim(5, IDS);
    const old = leaderOf(sim);
    commitBlocks(sim, 1);
    sim.isolate([old]);
    const stale = sim.nodes.get(old)!.raft;
    for (let i = 0; i < 6; i++) {
      stale.propose(makeBlock(stale.term, old, stale.lastBlockHash(), 900 + i));
      sim.step();
    }
    run(sim, 300, () => sim.leader() !== undefined && sim.leader()!.id !== old);
    commitBlocks(sim, 10);
    const leader = sim.leader()!.raft;
    const uncommittedTail = stale.lastIndex();
    expect(stale.entry(uncommittedTail)!.term).toBeLessThan(leader.term);
    const node = sim.nodes.get(old)!;
    const disk: Disk = { ...node.stored };
    const raft = build(old, disk);
    const applied: Entry[] = [];
    raft.acceptCommitted(logOf(leader, raft.applied + 1, leader.applied));
    drain(raft, disk, applied);
    expect(raft.lastIndex()).toBe(leader.applied);
    expect(disk.entries.map(identityOf)).toEqual(logOf(leader, 1, leader.applied).map(identityOf));
    expect(applied.some((e) => e.term === stale.term && e.type === 'block')).toBe(false);
    expect(raft.role).toBe('follower');
  });

  it('refuses entries that contradict its committed log, leave a gap, or do not link; changes nothing then', () => {
    const sim = new Sim(3, IDS);
    leaderOf(sim);
    commitBlocks(sim, 8);
    const leader = sim.leader()!.raft;
    const follower = [...sim.nodes.values()].find((n) => n.raft.role === 'follower')!.raft;
    const before = { commit: follower.commit };
    const at = follower.commit;
    const forged = { ...follower.entry(at)!, term: follower.entry(at)!.term + 5 };
    expect(() => follower.acceptCommitted([forged])).toThrow(/differs from this node's committed/);
    // A gap: starts beyond commit + 1.
    const gapped = [
      {
        index: follower.commit + 5,
        term: leader.term,
        type: 'noop' as const,
        data: new Uint8Array(0),
      },
    ];
    expect(() => follower.acceptCommitted(gapped)).toThrow(/after this node's commit index/);
    // A block that does not link to the previous block, past the commit.
    sim.isolate([follower.id]);
    commitBlocks(sim, 2);
    const next = logOf(leader, follower.commit + 1, leader.applied);
    const bad = next.map((e) =>
      e.type === 'block'
        ? { ...e, data: makeBlock(e.term, leader.id, new Uint8Array(32), 4242) }
        : e,
    );
    expect(bad.some((e) => e.type === 'block' && e.index > follower.lastIndex())).toBe(true);
    const lastBefore = follower.lastIndex();
    expect(() => follower.acceptCommitted(bad)).toThrow(/does not link/);
    expect(follower.lastIndex()).toBe(lastBefore);
    expect(follower.commit).toBe(before.commit);
    // The genuine entries pass.
    follower.acceptCommitted(next);
    expect(follower.commit).toBe(leader.applied);
    // A leader never takes them.
    expect(() => leader.acceptCommitted(next)).toThrow(/leader holds every committed entry/);
  });

  it('simulator: 200 seeded schedules with catch-up sync mixed in keep every invariant', () => {
    let caughtUp = 0;
    for (let seed = 1; seed <= Number(process.env.CATCHUP_SCHEDULES ?? 200); seed++) {
      try {
        caughtUp += runSchedule(seed, 220, undefined, { catchUp: true }).caughtUp;
      } catch (err) {
        throw new Error(`seed ${seed} (catch-up) failed: ${(err as Error).message}`);
      }
    }
    // Enough catch-ups actually happened for the run to mean something.
    expect(caughtUp).toBeGreaterThan(200);
  }, 600_000);
});
