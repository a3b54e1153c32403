/**
 * Seeded schedules of faults against five engines, safety checked after every step, liveness
 * after healing. A failure names its seed; replay one with
 *   SEED=<n> npx --yes pnpm@12.4.2 exec vitest run packages/consensus -t simulator
 */
import { describe, expect, it } from 'vitest';
import { runSchedule } from './schedule.ts';

describe('raft simulator', () => {
  const only = process.env.SEED;
  const seeds = only
    ? [Number(only)]
    : Array.from({ length: Number(process.env.SCHEDULES ?? 500) }, (_, i) => i + 1);
  it(`simulator: ${seeds.length} seeded schedules keep every safety invariant and stay live`, () => {
    let steps = 0;
    let installed = 0;
    for (const seed of seeds) {
      try {
        const r = runSchedule(seed);
        steps += r.steps;
        installed += r.installed;
      } catch (err) {
        throw new Error(
          `seed ${seed} failed: ${(err as Error).message}\nreplay: SEED=${seed} npx --yes pnpm@12.4.2 exec vitest run packages/consensus -t simulator`,
        );
      }
    }
    expect(steps).toBeGreaterThan(seeds.length * 100);
    // Followers behind a compacted log installed snapshots from block stores along the way.
    if (!only) expect(installed).toBeGreaterThan(seeds.length / 20);
    console.log(`${seeds.length} schedules, ${steps} steps, ${installed} snapshots installed`);
  }, 600_000);

  it(`simulator with a rogue member: ${Math.ceil(seeds.length / 2)} schedules where one member sends extreme and out-of-range terms and indexes stay safe and live`, () => {
    let refused = 0;
    for (const seed of seeds.filter((_, i) => i % 2 === 0)) {
      try {
        refused += runSchedule(seed, 220, undefined, { rogue: true }).refused;
      } catch (err) {
        throw new Error(
          `seed ${seed} (rogue) failed: ${(err as Error).message}\nreplay: SEED=${seed} npx --yes pnpm@12.4.2 exec vitest run packages/consensus -t rogue`,
        );
      }
    }
    // The forged out-of-range messages reached their targets and were refused, not applied.
    expect(refused).toBeGreaterThan(seeds.length);
  }, 600_000);
});
