/**
 * A short randomized fault schedule (test/harness/chaos.ts) with a fixed seed: SIGKILLs,
 * restarts and, with root + network namespaces, minority partitions under continuous load.
 * Nothing acknowledged may be lost or duplicated, and the healed nodes may not fork or diverge.
 * CHAOS_SEED picks another seed, CHAOS_SECONDS another length; the seed and the action log are
 * printed so a failure can be replayed with scripts/chaos.ts.
 */
import { describe, expect, it } from 'vitest';
import { chaosSchedule, formatReport, longestStall, runChaos } from './harness/chaos.ts';

const seed = Number(process.env.CHAOS_SEED ?? 6);
const seconds = Number(process.env.CHAOS_SECONDS ?? 45);

describe('chaos', () => {
  it('the schedule is a pure function of the seed and never takes down or cuts off a majority', () => {
    const nodes = ['node1', 'node2', 'node3', 'node4', 'node5'];
    for (const s of [1, 2, 3, seed]) {
      const a = chaosSchedule({ seed: s, seconds: 120, nodes, partitions: true });
      expect(chaosSchedule({ seed: s, seconds: 120, nodes, partitions: true })).toEqual(a);
      const down = new Set<string>();
      let cut: string[] = [];
      for (const x of a) {
        if (x.kind === 'kill') down.add(x.node);
        if (x.kind === 'restart') down.delete(x.node);
        if (x.kind === 'partition') cut = x.minority;
        if (x.kind === 'heal') cut = [];
        expect(new Set([...down, ...cut]).size).toBeLessThanOrEqual(2);
      }
      expect(new Set(a.map((x) => x.kind))).toEqual(
        new Set(['kill', 'restart', 'partition', 'heal', 'documents', 'rogue']),
      );
      // A rogue only ever uses the key of a node that is down at that moment.
      const off = new Set<string>();
      for (const x of a) {
        if (x.kind === 'kill') off.add(x.node);
        if (x.kind === 'restart') off.delete(x.node);
        if (x.kind === 'rogue') expect(off.has(x.node)).toBe(true);
      }
    }
    expect(chaosSchedule({ seed: 1, seconds: 120, nodes, partitions: true })).not.toEqual(
      chaosSchedule({ seed: 2, seconds: 120, nodes, partitions: true }),
    );
    const at = (t: number, acknowledged: number) => ({ t, acknowledged, view: '' });
    expect(longestStall([at(0, 0), at(1000, 5), at(2000, 5), at(3000, 5), at(4000, 6)])).toEqual({
      ms: 2000,
      fromMs: 1000,
    });
  });

  it(`a ${seconds} s fault schedule under load (seed ${seed}): nothing lost or duplicated, no forks, one state`, async () => {
    console.log(
      `chaos seed ${seed} (replay: CHAOS_SEED=${seed}, or node scripts/chaos.ts --seed ${seed} --seconds ${seconds})`,
    );
    // One block of output instead of one vitest stdout header per line.
    const lines: string[] = [];
    let report: Awaited<ReturnType<typeof runChaos>>;
    try {
      report = await runChaos({ seed, seconds, log: (l) => lines.push(l) });
    } finally {
      console.log(lines.join('\n'));
    }
    console.log(formatReport(report));
    if (report.logTails) {
      for (const [n, tail] of Object.entries(report.logTails)) console.log(`--- ${n}\n${tail}`);
    }
    expect(report.actions.length).toBeGreaterThan(5);
    expect(report.acknowledged).toBeGreaterThan(0);
    expect(report.converged).toBe(true);
    expect(report.lost).toEqual([]);
    expect(report.duplicated).toEqual([]);
    expect(report.forks).toEqual([]);
    expect(report.divergentStateHashes).toEqual([]);
    expect(report.exited).toEqual([]);
  }, 300_000);
});
