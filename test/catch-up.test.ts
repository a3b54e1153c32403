/**
 * Catch-up sync end to end, on real daemons: a validator is stopped while a few hundred
 * transactions commit, then restarted. Before it rejoins consensus it must fetch what it missed
 * from several members at once (the parallel sync path, not Raft replication from the leader),
 * and end with the same height, block hash and state hash as everyone else. Prints the rate.
 */
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';
import { type LoadResult, runLoad } from './harness/load.ts';

const VALIDATORS = ['node1', 'node2', 'node3', 'node4', 'node5'];
const LAGGARD = 'node5';
const TXS = Number(process.env.CATCHUP_TXS ?? 400);
// Small enough that even a few hundred transactions (in however few blocks the leader packs
// them) make several batches, so the parallel path is exercised; CATCHUP_BATCH to measure others.
const BATCH = Number(process.env.CATCHUP_BATCH ?? 16);
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

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 5 });
  appendFileSync(cluster.node(LAGGARD).config, `sync:\n  batchSize: ${BATCH}\n`);
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('catch-up sync', () => {
  it(`a validator stopped while ${TXS} transactions commit catches up from several members in parallel`, async () => {
    const stoppedAt = (await until('all five to agree', () => converged(VALIDATORS), 30_000))
      .height;
    await cluster.kill(LAGGARD, 'SIGTERM');
    const live = VALIDATORS.filter((n) => n !== LAGGARD);
    const result: LoadResult = { acknowledged: new Set(), failures: 0, latenciesMs: [] };
    await runLoad(cluster, {
      clients: 8,
      until: () => result.acknowledged.size >= TXS,
      nodes: () => live,
      result,
    });
    const before = (await until('the four to agree', () => converged(live), 30_000))!;
    const missed = before.height - stoppedAt;
    cluster.start(LAGGARD);
    const t0 = Date.now();
    const after = await until(
      'the restarted validator to catch up',
      async () => {
        const c = await converged(VALIDATORS);
        return c && c.height >= before.height ? c : false;
      },
      90_000,
    );
    const caughtUpMs = Date.now() - t0;
    const st = (await cluster.status(LAGGARD))!;
    expect(st.hash).toBe(after.hash);
    expect(st.stateHash).toBe(after.stateHash);
    // It caught up through the sync path, from more than one member.
    expect(st.sync, 'status.sync').not.toBeNull();
    expect(st.sync!.error).toBeNull();
    // Replication may finish the last blocks before sync's own run reports done: it ends soon.
    const finished = await until(
      'catch-up sync to report done',
      async () => {
        const s = (await cluster.status(LAGGARD))?.sync;
        return s && !s.active ? s : false;
      },
      15_000,
    );
    expect(finished.error).toBeNull();
    expect(st.sync!.batches).toBeGreaterThanOrEqual(3);
    expect(Object.keys(st.sync!.peers).length).toBeGreaterThan(1);
    expect(st.sync!.target).toBeGreaterThanOrEqual(before.height - 1);
    const lines = cluster
      .log(LAGGARD)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const started = lines.filter((l) => l['msg'] === 'catch-up sync started');
    const done = lines.filter((l) => l['msg'] === 'catch-up sync done');
    expect(started.at(-1)?.['reason']).toBe('start');
    expect(done.length).toBeGreaterThan(0);
    const d = done.at(-1)!;
    expect(Object.keys(d['peers'] as object).length).toBeGreaterThan(1);
    const metrics = await (
      await fetch(`http://127.0.0.1:${cluster.node(LAGGARD).metricsPort}/metrics`)
    ).text();
    const servedBy = [
      ...metrics.matchAll(/^ehr_sync_batches_total\{peer="([0-9a-f]+)"\} (\d+)$/gm),
    ];
    expect(servedBy.length).toBeGreaterThan(1);
    expect(metrics).toMatch(/^ehr_sync_progress 1$/m);
    console.log(
      `catch-up: down for ${missed} blocks (${result.acknowledged.size} txs); synced ${d['blocks']} blocks / ${d['txs']} txs / ${d['entries']} log entries in ${d['seconds']} s = ${d['blocksPerSecond']} blocks/s, ${d['txsPerSecond']} tx/s, ${d['batches']} batches from ${Object.keys(d['peers'] as object).length} peers; converged ${caughtUpMs} ms after restart`,
    );
  }, 180_000);
});
