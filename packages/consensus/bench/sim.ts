/**
 * sim:consensus - runs many more seeded fault schedules than CI does and reports how many
 * schedules and steps ran with zero invariant violations. SCHEDULES (default 5000), FROM (1).
 */
import { runSchedule } from '../test/schedule.ts';

const count = Number(process.env.SCHEDULES ?? 5000);
const from = Number(process.env.FROM ?? 1);
let steps = 0;
let refused = 0;
const t0 = performance.now();
for (let seed = from; seed < from + count; seed++) {
  try {
    // Every other schedule with a rogue member sending extreme and out-of-range terms/indexes.
    const r = runSchedule(seed, 220, undefined, { rogue: seed % 2 === 0 });
    steps += r.steps;
    refused += r.refused;
  } catch (err) {
    console.error(`seed ${seed} FAILED: ${(err as Error).message}`);
    console.error(
      `replay: SEED=${seed} npx --yes pnpm@12.4.2 exec vitest run packages/consensus -t simulator`,
    );
    process.exit(1);
  }
  if ((seed - from + 1) % 500 === 0)
    console.log(`${seed - from + 1} schedules, ${steps} steps, 0 violations`);
}
console.log(
  `done: ${count} schedules (every other one with a rogue member), ${steps} steps, ${refused} forged messages refused, 0 violations in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
