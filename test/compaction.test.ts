/**
 * Log compaction end to end, on five real daemons (four validators, one observer) with a tail of
 * 8 entries compacted every 8: while a validator and the observer are down, more than the tail
 * commits, so the others drop the log entries the two need. Both come back from blocks: the
 * validator (catch-up at start switched off by a huge threshold) is sent the leader's snapshot
 * and installs it from members' block stores; the observer, far behind, catches up at start from
 * entries the members serve rebuilt from their block stores. All five converge to the same head,
 * and every data directory holds no log entry at or below the index it compacted to (read from
 * the stores after the daemons stop, not from logs), and only a bounded tail above it.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseGenesis } from '@ehr/ledger';
import { Store } from '@ehr/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';
import { type LoadResult, runLoad } from './harness/load.ts';

const ALL = ['node1', 'node2', 'node3', 'node4', 'node5'];
const VALIDATOR = 'node4';
const OBSERVER = 'node5';
const TAIL = 8;
const EVERY = 8;
const TXS = Number(process.env.COMPACTION_TXS ?? 160);
let cluster: TestCluster;

async function converged(names: string[]) {
  const st = await Promise.all(names.map((n) => cluster.status(n)));
  if (st.some((s) => !s)) return false;
  const a = st[0]!;
  return st.every(
    (s) => s!.height === a.height && s!.hash === a.hash && s!.stateHash === a.stateHash,
  )
    ? a
    : false;
}

async function metric(name: string, metricName: string): Promise<number> {
  const text = await (
    await fetch(`http://127.0.0.1:${cluster.node(name).metricsPort}/metrics`)
  ).text();
  const m = text.match(new RegExp(`^${metricName} (\\d+)$`, 'm'));
  return m ? Number(m[1]) : Number.NaN;
}

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 4, observers: 1 });
  for (const n of ALL) {
    appendFileSync(
      cluster.node(n).config,
      `consensus:\n  logTailEntries: ${TAIL}\n  compactEveryEntries: ${EVERY}\n`,
    );
  }
  // The validator must not catch up at start: it is to be sent the leader's snapshot.
  appendFileSync(cluster.node(VALIDATOR).config, 'sync:\n  threshold: 1000000\n');
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('log compaction', () => {
  it(`a validator and an observer down while ${TXS} transactions commit come back from blocks; logs hold no entry below their compacted index`, async () => {
    const before = (await until('all five to agree', () => converged(ALL), 30_000)).height;
    // What the two hold: the others will compact beyond it.
    const held = Math.max(
      (await cluster.status(VALIDATOR))!.commitIndex,
      (await cluster.status(OBSERVER))!.commitIndex,
    );
    await cluster.kill(VALIDATOR, 'SIGTERM');
    await cluster.kill(OBSERVER, 'SIGKILL');
    const live = ALL.filter((n) => n !== VALIDATOR && n !== OBSERVER);
    const result: LoadResult = { acknowledged: new Set(), failures: 0, latenciesMs: [] };
    await runLoad(cluster, {
      clients: 2,
      until: () => result.acknowledged.size >= TXS,
      nodes: () => live,
      result,
    });
    const mid = (await until('the three to agree', () => converged(live), 30_000))!;
    // The others compacted beyond what the two had: replication alone cannot bring it.
    const leader = (await cluster.leader(live))!;
    const lst = (await cluster.status(leader))!;
    expect(lst.log.compactedIndex).toBeGreaterThan(held);
    expect(mid.height - before).toBeGreaterThan(TAIL + EVERY);
    cluster.start(VALIDATOR);
    cluster.start(OBSERVER);
    const after = await until(
      'the two to come back',
      async () => {
        const c = await converged(ALL);
        return c && c.height >= mid.height ? c : false;
      },
      120_000,
    );
    for (const n of ALL) expect((await cluster.status(n))!.hash).toBe(after.hash);
    // The validator installed a snapshot (its catch-up at start was off); the observer caught
    // up by sync, from entries served below the members' compacted index.
    expect(await metric(VALIDATOR, 'ehr_snapshots_installed_total')).toBeGreaterThanOrEqual(1);
    const ost = (await cluster.status(OBSERVER))!;
    expect(ost.sync, 'observer sync').not.toBeNull();
    expect(ost.sync!.batches).toBeGreaterThanOrEqual(1);
    expect(ost.sync!.error).toBeNull();
    // Both keep going with the rest: a new transaction commits everywhere.
    const more: LoadResult = { acknowledged: new Set(), failures: 0, latenciesMs: [] };
    await runLoad(cluster, {
      clients: 1,
      until: () => more.acknowledged.size >= 3,
      nodes: () => [VALIDATOR, OBSERVER],
      result: more,
    });
    const end = await until(
      'all five to agree again',
      async () => {
        const c = await converged(ALL);
        return c && c.height > after.height ? c : false;
      },
      60_000,
    );
    for (const n of ALL) {
      const st = (await cluster.status(n))!;
      expect(st.log.compactedIndex, `${n} compacted`).toBeGreaterThan(0);
      expect(st.log.durableHeight, `${n} durable height`).toBeGreaterThan(0);
      expect(await metric(n, 'ehr_log_compacted_index')).toBe(st.log.compactedIndex);
    }
    for (const n of ALL) await cluster.kill(n, 'SIGTERM');
    // The stores themselves: no log entry at or below the compacted index, a bounded tail.
    const genesisFile = join(dirname(cluster.node('node1').config), '..', 'genesis.json');
    const genesis = parseGenesis(readFileSync(genesisFile, 'utf8'), genesisFile);
    for (const n of ALL) {
      const store = await Store.open(join(dirname(cluster.node(n).config), 'data'), genesis);
      try {
        const compacted = store.raft.compactedIndex;
        expect(compacted, `${n} compacted index`).toBeGreaterThan(0);
        expect(await store.raft.countAtOrBelow(compacted), `${n} entries <= ${compacted}`).toBe(0);
        expect((await store.raft.snapshot())?.index).toBe(compacted);
        expect(store.head().height).toBe(end.height);
        // The tail, what was not compacted yet, and nothing more.
        expect(store.raft.lastIndex - compacted, `${n} log length`).toBeLessThanOrEqual(
          TAIL + 3 * EVERY + 8,
        );
        // What was compacted is still served: its stub and block.
        const stub = await store.raft.stub(compacted);
        expect(stub?.index).toBe(compacted);
      } finally {
        await store.close();
      }
    }
  }, 300_000);
});
