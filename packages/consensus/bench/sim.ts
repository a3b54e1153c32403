/**
 * sim:consensus - runs many more seeded fault schedules than CI does and reports how many
 * schedules and steps ran with zero invariant violations. SCHEDULES (default 5000), FROM (1).
 */
import { intFlag, scriptArgs } from '../../../scripts/args.ts';
import { runSchedule } from '../test/schedule.ts';

const USAGE = `
usage: node packages/consensus/bench/sim.ts [flags]   (or: pnpm run sim:consensus -- [flags])
  --schedules N   how many seeded schedules (default 5000; or SCHEDULES)
  --from N        the first seed (default 1; or FROM)
  --help          this text`;
const { values } = scriptArgs(USAGE, { schedules: { type: 'string' }, from: { type: 'string' } });
const count = intFlag(USAGE, 'schedules', values.schedules, 5000, { env: 'SCHEDULES', min: 1 });
const from = intFlag(USAGE, 'from', values.from, 1, { env: 'FROM' });
let steps = 0;
let refused = 0;
let installed = 0;
const t0 = performance.now();
for (let seed = from; seed < from + count; seed++) {
  try {
    // Every other schedule with a rogue member sending extreme and out-of-range terms/indexes.
    const r = runSchedule(seed, 220, undefined, { rogue: seed % 2 === 0 });
    steps += r.steps;
    refused += r.refused;
    installed += r.installed;
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
  `done: ${count} schedules (every other one with a rogue member; two in three compacting), ${steps} steps, ${installed} snapshots installed from block stores, ${refused} forged messages refused, 0 violations in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
