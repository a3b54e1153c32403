/**
 * bench:consensus - five engines in one process, no faults, messages encoded and decoded as on
 * the wire: blocks committed per second, and the distribution of ticks to elect a leader.
 * Prints a table and writes .bench/consensus.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { intFlag, scriptArgs } from '../../../scripts/args.ts';
import { decodeMessage, encodeMessage } from '../src/codec.ts';
import { RaftNode } from '../src/raft.ts';
import { GENESIS_HASH, makeBlock, mulberry32, testVerifier } from '../test/sim.ts';

const USAGE = `
usage: node packages/consensus/bench/consensus.bench.ts [--seconds 3]   (or: pnpm run bench:consensus -- --seconds 3)
  --seconds N   seconds of the pipelined commit phase (default 3; or BENCH_SECONDS)
  --help        this text`;
const { values } = scriptArgs(USAGE, { seconds: { type: 'string' } });

const IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

function cluster(seed: number) {
  const rng = mulberry32(seed);
  const nodes = new Map(
    IDS.map((id) => [
      id,
      new RaftNode({
        id,
        initial: { voters: IDS, learners: [], removed: [] },
        genesisHash: GENESIS_HASH,
        storage: { entries: [] },
        electionTick: 10,
        heartbeatTick: 2,
        random: rng,
        blockVerifier: testVerifier,
      }),
    ]),
  );
  let committed = 0;
  const pump = () => {
    let moved = true;
    while (moved) {
      moved = false;
      for (const n of nodes.values()) {
        while (n.hasReady()) {
          moved = true;
          const rd = n.ready();
          for (const m of rd.messages) nodes.get(m.to)?.step(decodeMessage(encodeMessage(m)));
          if (n.role === 'leader')
            committed += rd.committed.filter((e) => e.type === 'block').length;
          n.advance(rd);
        }
      }
    }
  };
  const leader = () => [...nodes.values()].find((n) => n.role === 'leader');
  return { nodes, pump, leader, committedBlocks: () => committed };
}

// 1. Ticks to elect a leader, over many fresh clusters.
const electionTicks: number[] = [];
for (let seed = 1; seed <= 300; seed++) {
  const c = cluster(seed);
  let t = 0;
  while (!c.leader()) {
    for (const n of c.nodes.values()) n.tick();
    c.pump();
    t++;
  }
  electionTicks.push(t);
}
electionTicks.sort((a, b) => a - b);
const pct = (p: number) =>
  electionTicks[Math.min(electionTicks.length - 1, Math.floor(p * electionTicks.length))]!;

// 2. Blocks committed per second with a pipeline of in-flight blocks.
const c = cluster(99);
while (!c.leader()) {
  for (const n of c.nodes.values()) n.tick();
  c.pump();
}
const seconds = intFlag(USAGE, 'seconds', values.seconds, 3, { env: 'BENCH_SECONDS', min: 1 });
let n = 0;
const t0 = performance.now();
while (performance.now() - t0 < seconds * 1000) {
  const l = c.leader()!;
  for (let i = 0; i < 8; i++) {
    l.propose(makeBlock(l.term, l.id, l.lastBlockHash(), ++n));
  }
  c.pump();
}
const elapsed = (performance.now() - t0) / 1000;
const blocksPerSec = Math.round(c.committedBlocks() / elapsed);

const rows = [
  ['blocks committed / s (5 engines, one process)', String(blocksPerSec)],
  ['ticks to elect: min', String(electionTicks[0])],
  ['ticks to elect: p50', String(pct(0.5))],
  ['ticks to elect: p90', String(pct(0.9))],
  ['ticks to elect: p99', String(pct(0.99))],
  ['ticks to elect: max', String(electionTicks.at(-1))],
];
console.log('| measure | value |\n|---|---:|');
for (const [k, v] of rows) console.log(`| ${k} | ${v} |`);
mkdirSync('.bench', { recursive: true });
writeFileSync(
  '.bench/consensus.json',
  `${JSON.stringify({ when: new Date().toISOString(), node: process.version, blocksPerSec, electionTicks: { min: electionTicks[0], p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), max: electionTicks.at(-1), electionTick: 10, runs: electionTicks.length } }, null, 2)}\n`,
);
console.log('\nwrote .bench/consensus.json');
