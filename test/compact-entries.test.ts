/**
 * Compact block entries between real daemons: under load through every node, followers rebuild
 * the leader's block entries from their own mempools (ehr_compact_entries_total{outcome=filled}),
 * and every node ends with the same chain holding every acknowledged transaction exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';
import { chainTxs, type LoadResult, runLoad } from './harness/load.ts';

const NODES = ['node1', 'node2', 'node3'];
const TXS = 240;
let cluster: TestCluster;

beforeAll(async () => {
  // Off by default (consensus.compactEntries): turned on here.
  cluster = await TestCluster.create({
    validators: 3,
    config: 'consensus:\n  compactEntries: true',
  });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

async function compactCounts(name: string): Promise<Record<string, number>> {
  const text = await (
    await fetch(`http://127.0.0.1:${cluster.node(name).metricsPort}/metrics`)
  ).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ehr_compact_entries_total\{outcome="(\w+)"\} (\d+)$/gm)) {
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe('compact block entries', () => {
  it('followers fill the leader entries from their mempools; every node holds the same chain', async () => {
    const result: LoadResult = { acknowledged: new Set(), failures: 0, latenciesMs: [] };
    await runLoad(cluster, {
      clients: 12,
      until: () => result.acknowledged.size >= TXS,
      nodes: () => NODES,
      result,
    });
    const leader = (await until('a leader', () => cluster.leader(), 30_000))!;
    const heights = async () =>
      Promise.all(NODES.map(async (n) => (await cluster.status(n))!.height));
    await until(
      'every node at the same height',
      async () => new Set(await heights()).size === 1,
      30_000,
    );
    const chains = await Promise.all(NODES.map((n) => chainTxs(cluster, n)));
    for (const c of chains) {
      expect(c.duplicates).toBe(0);
      expect(c.hashes).toEqual(chains[0]!.hashes);
    }
    const inChain = new Set(chains[0]!.hashes);
    for (const h of result.acknowledged) expect(inChain.has(h)).toBe(true);

    const followers = NODES.filter((n) => n !== leader);
    const counts = await Promise.all(followers.map(compactCounts));
    const filled = counts.reduce((n, c) => n + (c['filled'] ?? 0), 0);
    const fetched = counts.reduce((n, c) => n + (c['fetched'] ?? 0), 0);
    console.log(`compact entries on followers: ${JSON.stringify(counts)}`);
    // Most block entries reach followers compact and are rebuilt from their own mempools.
    expect(filled).toBeGreaterThan(0);
    expect(filled).toBeGreaterThanOrEqual(fetched);
  }, 240_000);
});
