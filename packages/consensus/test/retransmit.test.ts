/**
 * A follower far behind on a slow link: the leader pipelines its backlog once and resends only
 * after a quiet spell. Heartbeats used to rewind to the last acknowledged index every two ticks,
 * so a restarted voter working through hundreds of entries received each of them many times,
 * answered late, and cost the leader its quorum (seen on five daemons under load).
 */
import { describe, expect, it } from 'vitest';
import { Sim } from './sim.ts';

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

function runUntil(sim: Sim, max: number, done: () => boolean): number {
  for (let i = 0; i < max; i++) {
    sim.step();
    if (done()) return i + 1;
  }
  throw new Error(`not done within ${max} steps`);
}

function behindOnSlowLink(seed: number) {
  // Flow control as loose as the daemon's relative to these tiny blocks.
  const sim = new Sim(seed, IDS, { tightFlow: false });
  runUntil(sim, 500, () => sim.leader() !== undefined);
  const leader = sim.leader()!.id;
  const lagging = IDS.find((id) => id !== leader)!;
  sim.crash(lagging);
  // 400 blocks committed without it.
  for (let i = 0; i < 400; i++) {
    sim.propose();
    sim.step();
  }
  runUntil(sim, 500, () => sim.leader()!.raft.commit >= 400);
  const target = sim.leader()!.raft.lastIndex();
  sim.restart(lagging);
  // Messages to it take 6 ticks: slower than a heartbeat (2), quicker than an election (10).
  for (const id of IDS) if (id !== lagging) sim.slow.set(`${id}>${lagging}`, 6);
  const sent = new Map<number, number>();
  sim.onSend = (_from, m) => {
    if (m.to !== lagging || m.type !== 'append') return;
    for (const e of m.entries) sent.set(e.index, (sent.get(e.index) ?? 0) + 1);
  };
  const steps = runUntil(sim, 2000, () => sim.nodes.get(lagging)!.raft.commit >= target);
  return { sim, leader, lagging, sent, steps };
}

describe('retransmission to a follower far behind', () => {
  it('sends each missing entry about once over a slow link, and the follower catches up', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const { sim, leader, sent, steps } = behindOnSlowLink(seed);
      const total = [...sent.values()].reduce((a, b) => a + b, 0);
      const ratio = total / sent.size;
      console.log(
        `seed ${seed}: ${sent.size} entries sent ${total} times (x${ratio.toFixed(2)}), caught up in ${steps} steps`,
      );
      expect(sent.size).toBeGreaterThanOrEqual(400);
      // Before: every heartbeat rewound the pipeline (x5 and more here).
      expect(ratio).toBeLessThan(1.3);
      // Promptly: a follower heard again after a silence gets its backlog at once, not after
      // the backed-off resend wait its silence built up (22 steps here; 78 without).
      expect(steps).toBeLessThan(50);
      // And no election on the way.
      expect(sim.leader()!.id).toBe(leader);
    }
  });

  it('still resends what a lossy link dropped, after the quiet spell', () => {
    const sim = new Sim(9, IDS);
    runUntil(sim, 500, () => sim.leader() !== undefined);
    const leader = sim.leader()!.id;
    const lagging = IDS.find((id) => id !== leader)!;
    // Drop everything to it for a while: entries are lost, not delayed.
    for (const id of IDS) sim.cut.add(`${id}>${lagging}`);
    for (let i = 0; i < 50; i++) {
      sim.propose();
      sim.step();
    }
    sim.cut.clear();
    const target = sim.leader()!.raft.lastIndex();
    runUntil(sim, 300, () => sim.nodes.get(lagging)!.raft.commit >= target);
    expect(sim.leader()!.id).toBe(leader);
  });
});
