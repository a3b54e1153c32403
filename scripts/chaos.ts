/**
 * Randomized fault schedule against five local validator daemons under continuous load
 * (test/harness/chaos.ts): SIGKILL and restart nodes, with root + network namespaces cut a
 * minority off and heal, bursts of documents near the genesis maximum, and a rogue host with a
 * stopped member's key sending extreme terms and fake block announcements. Prints the action log and a summary table, writes .bench/chaos.json,
 * and exits 1 if any acknowledged transaction was lost or duplicated, or nodes forked or
 * diverged.
 *
 *   node scripts/chaos.ts [--seed N] [--seconds 60] [--clients 8] [--no-partitions]
 *
 * Without --seed a random seed is drawn and printed; the same seed replays the same actions.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { formatReport, runChaos } from '../test/harness/chaos.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string', default: '60' },
    clients: { type: 'string', default: '8' },
    'no-partitions': { type: 'boolean', default: false },
    out: { type: 'string', default: '.bench/chaos.json' },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const seconds = Number(values.seconds);
if (!Number.isInteger(seed) || !(seconds > 0)) {
  console.error('usage: node scripts/chaos.ts [--seed N] [--seconds S] [--clients C]');
  process.exit(2);
}
// Ctrl-C: exit through the exit handlers, which remove the namespaces and their daemons.
process.once('SIGINT', () => process.exit(130));
console.log(`chaos: seed ${seed}, ${seconds} s, ${values.clients} clients`);
const report = await runChaos({
  seed,
  seconds,
  clients: Number(values.clients),
  ...(values['no-partitions'] ? { partitions: false } : {}),
});
console.log(formatReport(report));
const out = resolve(values.out!);
mkdirSync(join(out, '..'), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`report: ${out}`);
process.exit(report.violations > 0 ? 1 : 0);
