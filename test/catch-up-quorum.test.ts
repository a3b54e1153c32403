/**
 * A voter catching up after a restart keeps taking part in consensus while it syncs: with two
 * other validators down, the leader keeps its quorum and commits go on (found by the chaos
 * schedule; catch-up sync used to pause the engine).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';
import { type LoadResult, runLoad } from './harness/load.ts';

const NODES = ['node1', 'node2', 'node3', 'node4', 'node5'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let cluster: TestCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

describe('catch-up sync and quorum', () => {
  // With two validators down, the restarted one is needed for every quorum while it syncs.
  it('a voter catching up after a restart does not cost the leader its quorum', async () => {
    const c = await TestCluster.create({ validators: 5 });
    cluster = c;
    c.startAll();
    const leader = await until('a leader', () => c.leader(), 60_000);
    const [f1, f2, a, b] = NODES.filter((n) => n !== leader) as [string, string, string, string];
    const down = new Set<string>();
    let stop = false;
    const result: LoadResult = { acknowledged: new Set(), failures: 0, latenciesMs: [] };
    const load = runLoad(c, {
      clients: 6,
      until: () => stop,
      nodes: () => NODES.filter((n) => !down.has(n)),
      result,
    });
    try {
      await sleep(1000);
      for (const n of [a, b]) {
        down.add(n);
        await c.kill(n);
      }
      // Let `a` fall well past the catch-up threshold (64 entries).
      await until(
        `${a} to be far behind`,
        async () => ((await c.status(leader))?.height ?? 0) > 400,
        60_000,
      );
      const before = (await c.status(leader))!;
      // Restart `a`; once it takes part in consensus again (it is then still far behind and
      // syncing), take `f2` down: still only two of five down, and `a` is needed for quorum.
      c.start(a);
      await until(
        `${a} to take part in consensus`,
        async () => {
          const st = (await c.status(a)) as { loop?: { paused?: boolean } } | undefined;
          return st?.loop?.paused === false;
        },
        30_000,
      );
      down.delete(a);
      down.add(f2);
      await c.kill(f2);
      const views: string[] = [];
      const end = Date.now() + 8000;
      while (Date.now() < end) {
        const st = await Promise.all([leader, f1, a].map((n) => c.status(n)));
        views.push(
          st.map((s, i) => `${[leader, f1, a][i]} ${s?.role ?? '-'} t${s?.term ?? '-'}`).join(', '),
        );
        await sleep(250);
      }
      const after = (await c.status(leader))!;
      const lost = views.filter((v) => !v.startsWith(`${leader} leader`));
      console.log(`samples without ${leader} leading: ${lost.length}/${views.length}: ${lost[0]}`);
      if (lost.length > 0) console.log(views.join('\n'));
      expect(lost).toEqual([]);
      expect(after.role).toBe('leader');
      expect(after.term).toBe(before.term);
    } finally {
      stop = true;
      await load;
    }
  }, 150_000);
});
