/**
 * Randomized fault schedule against five local validator daemons under continuous load
 * (test/harness/chaos.ts): SIGKILL and restart nodes, with root + network namespaces cut a
 * minority off and heal, bursts of documents near the genesis maximum, and a rogue host with a
 * stopped member's key sending extreme terms and fake block announcements. Prints the action log and a summary table, writes .bench/chaos.json,
 * and exits 1 if any acknowledged transaction was lost or duplicated, or nodes forked or
 * diverged.
 *
 *   node scripts/chaos.ts [--seed N] [--seconds 60] [--clients 8] [--no-partitions] [--dry-run]
 *
 * Without --seed a random seed is drawn and printed; the same seed replays the same actions.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  chaosSchedule,
  describeAction,
  formatReport,
  NODES,
  runChaos,
} from '../test/harness/chaos.ts';
import { netnsSupport } from '../test/harness/netns.ts';
import { intFlag, scriptArgs } from './args.ts';

const USAGE = `
usage: node scripts/chaos.ts [flags]   (or: pnpm run chaos -- [flags])
  --seed N          the schedule's seed (default: a random one, printed)
  --seconds S       how long to run (default 60)
  --clients C       concurrent clients of the load (default 8)
  --no-partitions   only kills and restarts (partitions need root and network namespaces)
  --out FILE        the JSON report (default .bench/chaos.json)
  --dry-run         print the schedule this seed plays here, start nothing
  --help            this text`;
const { values } = scriptArgs(USAGE, {
  seed: { type: 'string' },
  seconds: { type: 'string' },
  clients: { type: 'string' },
  'no-partitions': { type: 'boolean' },
  out: { type: 'string' },
  'dry-run': { type: 'boolean' },
});
const seed = intFlag(USAGE, 'seed', values.seed, Math.floor(Math.random() * 2 ** 31), {
  max: 2 ** 32 - 1,
});
const seconds = intFlag(USAGE, 'seconds', values.seconds, 60, { min: 1 });
const clients = intFlag(USAGE, 'clients', values.clients, 8, { min: 1, max: 1000 });
if (values['dry-run']) {
  // The schedule a real run with these flags plays on this machine (partitions only if it can).
  const partitions = values['no-partitions'] !== true && netnsSupport().ok;
  console.log(`chaos: seed ${seed}, ${seconds} s, partitions ${partitions ? 'on' : 'off'}`);
  for (const a of chaosSchedule({ seed, seconds, nodes: NODES, partitions }))
    console.log(`${String(a.at).padStart(7)} ms  ${describeAction(a)}`);
  process.exit(0);
}
// Ctrl-C: exit through the exit handlers, which remove the namespaces and their daemons.
process.once('SIGINT', () => process.exit(130));
console.log(`chaos: seed ${seed}, ${seconds} s, ${clients} clients`);
const report = await runChaos({
  seed,
  seconds,
  clients,
  ...(values['no-partitions'] ? { partitions: false } : {}),
});
console.log(formatReport(report));
const out = resolve(values.out ?? '.bench/chaos.json');
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`report: ${out}`);
process.exit(report.violations > 0 ? 1 : 0);
