/**
 * `ehr_p2p_peers` follows connections as they open and close, with no block in between: a
 * follower stops and the leader's gauge drops at once; it starts again and the gauge rises,
 * while the chain's height stays where it was (so no block could have refreshed it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
const NODES = ['node1', 'node2', 'node3'];

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

async function peersGauge(name: string): Promise<number | undefined> {
  try {
    const text = await (
      await fetch(`http://127.0.0.1:${cluster.node(name).metricsPort}/metrics`)
    ).text();
    const m = /^ehr_p2p_peers (\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

describe('ehr_p2p_peers', () => {
  it('drops when a peer goes and rises when it comes back, without a block', async () => {
    const leader = (await until('a leader', () => cluster.leader(), 30_000))!;
    const follower = NODES.find((n) => n !== leader)!;
    await until(
      'the leader to count both peers',
      async () => (await peersGauge(leader)) === 2,
      20_000,
    );
    const height = (await cluster.status(leader))!.height;

    await cluster.kill(follower);
    await until('the gauge to drop to 1', async () => (await peersGauge(leader)) === 1, 10_000);
    // node_metrics reads the same gauge.
    const m = await cluster.client(leader).call<{ summary: { peers: number } }>('node_metrics');
    expect(m.summary.peers).toBe(1);

    cluster.start(follower);
    await until('the gauge to rise to 2', async () => (await peersGauge(leader)) === 2, 30_000);
    expect((await cluster.status(leader))!.height).toBe(height);
  }, 90_000);
});
