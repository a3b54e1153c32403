/**
 * The signed-read nonce memory of a real daemon's gateway, in its metrics: ehr_cache_bytes
 * {cache="read_nonces"} starts at 0, grows by READ_NONCE_BYTES per accepted signed read (also
 * when the read itself then fails), and a replayed read is refused without adding to it.
 */
import { RpcError, signRead } from '@ehr/api';
import { generateSecretKey, publicKeyOf, toHex } from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { READ_NONCE_BYTES } from '../packages/gateway/src/read-nonces.ts';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.start('node1');
  await until('a leader', () => cluster.leader(), 120_000);
}, 180_000);

afterAll(async () => {
  await cluster?.stop();
});

async function nonceBytes(): Promise<number | undefined> {
  const port = cluster.node('node1').metricsPort;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^ehr_cache_bytes\{cache="read_nonces"\} (\d+)$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

describe('signed-read nonces in the metrics', () => {
  it('counts the bytes of the nonces remembered, and refuses a replay', async () => {
    const rpc = cluster.client('node1');
    const target = { chainId: cluster.plan.chainId, node: (await rpc.status()).nodeId };
    expect(await nonceBytes()).toBe(0);
    const sk = generateSecretKey();
    const me = toHex(publicKeyOf(sk));
    const reads = [0, 1, 2].map(() => signRead(target, 'patient_reports', { patient: me }, sk));
    for (const p of reads) {
      // Whatever the read answers (no such patient here), its nonce is spent.
      const r = await rpc.call('patient_reports', p).catch((e) => e);
      if (r instanceof RpcError) expect(r.data).not.toMatchObject({ code: 'READ_REPLAYED' });
    }
    expect(await nonceBytes()).toBe(3 * READ_NONCE_BYTES);
    const replay = (await rpc.call('patient_reports', reads[1]).catch((e) => e)) as RpcError;
    expect(replay).toBeInstanceOf(RpcError);
    expect(replay.data).toMatchObject({ code: 'READ_REPLAYED' });
    expect(await nonceBytes()).toBe(3 * READ_NONCE_BYTES);
  }, 60_000);
});
