/** One seeded fault schedule against five engines (shared by the test and sim:consensus). */
import { mulberry32, Sim } from './sim.ts';

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

/**
 * `catchUp`: a node also takes committed entries from a random member now and then (catch-up
 * sync beside replication). Those events draw from their own random stream, so every schedule
 * is otherwise the same as without them. `rogue`: one member also sends forged copies of its
 * messages with extreme terms (accepted) or out-of-range terms and indexes (refused at decoding)
 * until the network heals.
 */
export function runSchedule(
  seed: number,
  steps = 220,
  debug?: (sim: Sim, s: number) => void,
  opts: { catchUp?: boolean; rogue?: boolean } = {},
): { steps: number; commits: number; caughtUp: number; refused: number; installed: number } {
  // Two schedules in three compact (a tail of 0-3 entries, every 2-6), as the node does.
  const sim = new Sim(seed, IDS, {
    compactEvery: seed % 3 === 1 ? 0 : 2 + (seed % 5),
    tail: seed % 4,
  });
  // A member sending extreme terms and out-of-range terms/indexes until the network heals.
  if (opts.rogue)
    sim.rogue = { id: IDS[seed % IDS.length]!, rate: 0.2, rng: mulberry32(seed * 31 + 5) };
  const r = sim.rng;
  const cr = mulberry32(seed * 7919 + 1);
  let caughtUp = 0;
  const maybeCatchUp = () => {
    if (!opts.catchUp || cr() >= 0.08) return;
    const ids = [...sim.nodes.keys()];
    const to = ids[Math.floor(cr() * ids.length)]!;
    const from = ids[Math.floor(cr() * ids.length)]!;
    if (sim.catchUp(to, from, 1 + Math.floor(cr() * 24))) caughtUp++;
  };
  let learnerSeq = 0;
  for (let s = 0; s < steps; s++) {
    maybeCatchUp();
    if (s % 20 === 0) {
      sim.faults = { drop: r() * 0.3, duplicate: r() * 0.2, maxDelay: 1 + Math.floor(r() * 6) };
      sim.cut.clear();
      const kind = r();
      const ids = [...sim.nodes.keys()];
      if (kind < 0.2)
        sim.isolate(ids.slice(0, 2)); // minority
      else if (kind < 0.35) sim.isolate([ids[Math.floor(r() * ids.length)]!]);
      else if (kind < 0.5) {
        // asymmetric: one node can send but not hear
        const x = ids[Math.floor(r() * ids.length)]!;
        for (const o of ids) if (o !== x) sim.cut.add(`${o}>${x}`);
      }
    }
    const roll = r();
    if (roll < 0.3) sim.propose();
    else if (roll < 0.33) {
      const ids = [...sim.nodes.keys()];
      sim.crash(ids[Math.floor(r() * ids.length)]!);
    } else if (roll < 0.4) {
      for (const n of sim.nodes.values()) if (!n.up) sim.restart(n.id);
    } else if (roll < 0.415) {
      // membership changes during faults: add a learner, promote it, or remove someone
      const l = sim.leader();
      if (l) {
        const m = l.raft.membership;
        try {
          if (m.learners.length > 0)
            l.raft.proposeConfChange({ op: 'promote', node: m.learners[0]! });
          else if (m.voters.length > 4 && r() < 0.5) {
            l.raft.proposeConfChange({
              op: 'remove',
              node: m.voters[Math.floor(r() * m.voters.length)]!,
            });
          } else {
            const id = `x${seed}-${++learnerSeq}`;
            sim.add(id);
            l.raft.proposeConfChange({ op: 'addLearner', node: id });
          }
        } catch {
          // a change already pending, or not the leader any more: the client retries later
        }
      }
    }
    sim.step();
  }
  // Liveness: heal everything; within a bounded number of ticks a leader exists and a new
  // block commits on every live voter.
  sim.heal();
  const before = sim.committed.size;
  let proposed = false;
  for (let s = 0; s < 400; s++) {
    maybeCatchUp();
    sim.step();
    debug?.(sim, s);
    if (!proposed && sim.leader()) proposed = sim.propose();
    const l = sim.leader();
    if (proposed && l && sim.committed.size > before) {
      const voters = l.raft.membership.voters.filter((v) => sim.nodes.get(v)?.up);
      const target = l.raft.commit;
      if (voters.every((v) => sim.nodes.get(v)!.raft.commit >= target))
        return {
          steps: sim.steps,
          commits: sim.committed.size,
          caughtUp,
          refused: sim.refused,
          installed: sim.installed,
        };
    }
  }
  throw new Error(
    `liveness: seed ${seed}: no commit within 400 ticks after healing (leader: ${sim.leader()?.id ?? 'none'})`,
  );
}
