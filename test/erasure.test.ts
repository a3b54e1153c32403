/**
 * Erasure reaches the consensus log: after a patient erases a report's body, no trace of it is
 * left in the node's store (payload bucket or consensus log entries), a node that syncs the
 * chain afterwards never receives it, and every block still verifies.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RpcError } from '@ehr/api';
import { decode, generateSecretKey, loadKeyFile, publicKeyOf } from '@ehr/core';
import { parseGenesis } from '@ehr/ledger';
import { Bucket, Store, verifyStore } from '@ehr/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Actor } from './harness/actors.ts';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
});

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Where in a stopped node's store a body still appears. */
async function traces(name: string, body: Uint8Array): Promise<string[]> {
  const genesis = parseGenesis(readFileSync(cluster.plan.genesis, 'utf8'));
  const store = await Store.open(join(cluster.node(name).dir, 'data'), genesis);
  try {
    await verifyStore(store);
    const found: string[] = [];
    for await (const [k, v] of store.db.range(new Uint8Array([Bucket.payload]))) {
      if (contains(v, body)) found.push(`payload ${Buffer.from(k).toString('hex').slice(2, 14)}`);
    }
    for await (const [, v] of store.db.range(new Uint8Array([Bucket.raftLog]))) {
      const e = decode(v) as { data: Uint8Array };
      if (contains(e.data, body)) found.push('consensus log entry');
    }
    return found;
  } finally {
    await store.close();
  }
}

describe('erasure', () => {
  it("removes an erased body from every node's store and consensus log", async () => {
    const rpc = cluster.client('node1');
    const chainId = cluster.plan.chainId;
    const admin = new Actor('admin', rpc, chainId, loadKeyFile(cluster.plan.adminKey).secretKey);
    const alice = new Actor('alice', rpc, chainId);
    const city = generateSecretKey();
    // node3 is down while the report comes and goes: it learns the chain only afterwards.
    await cluster.kill('node3', 'SIGTERM');
    await admin.send('hospital.register', {
      id: 'city',
      name: 'City',
      address: '1 road',
      specializations: ['cardiology'],
      contact: 'x',
      nodes: [],
      encryptionKey: publicKeyOf(city),
    });
    const profile = await alice.signUp('alice');
    const { id: reportId, sealed: report } = await alice.submitReport(
      'city',
      'cardiology',
      'a private matter',
      publicKeyOf(city),
    );
    await alice.send('payload.erase', { payloadHash: report.ref.payloadHash });
    const denied = await alice.read('record_get', { id: reportId }).catch((e: RpcError) => e);
    expect((denied as RpcError).data).toMatchObject({ code: 'ERASED' });
    // node3 comes back and catches up on a chain that no longer carries the body.
    cluster.start('node3');
    const tip = (await cluster.client('node1').status()).height;
    await until(
      'node3 caught up',
      async () => ((await cluster.status('node3'))?.height ?? 0) >= tip,
      60_000,
    );
    for (const n of ['node1', 'node2', 'node3']) await cluster.kill(n, 'SIGTERM');
    for (const n of ['node1', 'node2', 'node3']) {
      expect(await traces(n, report.body), n).toEqual([]);
      // The profile, never erased, is still there.
      expect((await traces(n, profile.body)).length, n).toBeGreaterThan(0);
    }
  }, 150_000);
});
