/**
 * Five validator daemons and an observer as real processes on 127.0.0.1: they agree on one
 * chain, survive losing the leader, catch a restarted node up, refuse a non-member, and the
 * observer follows without voting.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcClient } from '@ehr/api';
import { generateKeyPair, loadKeyFile, saveKeyFile, sha256, utf8 } from '@ehr/core';
import { peerIdOf } from '@ehr/p2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
let admin: Uint8Array;
let nonce = 0;
const VALIDATORS = ['node1', 'node2', 'node3', 'node4', 'node5'];

function hospital(n: number) {
  return {
    chainId: 'ehr-e2e',
    nonce: nonce++,
    kind: 'hospital.register',
    payload: {
      id: `hospital-${n}`,
      name: `Hospital ${n}`,
      address: `${n} Main St`,
      specializations: ['cardiology'],
      contact: `desk@h${n}.example`,
      nodes: [],
      encryptionKey: sha256(utf8(`h${n}`)),
    },
  };
}

async function heights(names: string[]) {
  return Promise.all(names.map(async (n) => (await cluster.status(n))?.height ?? -1));
}

async function converged(names: string[]) {
  const st = await Promise.all(names.map((n) => cluster.status(n)));
  if (st.some((s) => !s)) return false;
  const first = st[0]!;
  return st.every(
    (s) => s!.height === first.height && s!.stateHash === first.stateHash && s!.hash === first.hash,
  )
    ? first
    : false;
}

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 5, observers: 1 });
  admin = loadKeyFile(cluster.plan.adminKey).secretKey;
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('five-node network', () => {
  it('commits a stream of transactions submitted to every node; all end with identical chains and state hashes', async () => {
    for (let i = 0; i < 20; i++) {
      const via = VALIDATORS[i % 5]!;
      const r = await cluster
        .client(via)
        .submit(hospital(i), admin, { mode: 'commit', timeoutMs: 20_000 });
      expect(r.status.status, JSON.stringify(r)).toBe('committed');
    }
    const head = await until('all nodes converge', () => converged([...VALIDATORS, 'node6']));
    expect(head.height).toBeGreaterThanOrEqual(1);
    // The leader's block announcements reached every node, the observer included.
    await until('announcements everywhere', async () => {
      const st = await Promise.all([...VALIDATORS, 'node6'].map((n) => cluster.status(n)));
      return st.every((x) => x?.networkHeight === head.height);
    });
    // Committed through node1, proved by node2 once it has applied that block (chain reads are
    // served from a node's own applied state, without a read barrier).
    const { hash, status } = await cluster
      .client('node1')
      .submit(hospital(99), admin, { mode: 'commit' });
    const { height } = status as { height: number };
    await until('node2 applied the block', async () => (await heights(['node2']))[0]! >= height);
    expect(
      (await cluster.client('node2').call<{ count: number }>('chain_getProof', { hash })).count,
    ).toBeGreaterThan(0);
  }, 120_000);

  it('stopping the leader elects a new one and commits resume', async () => {
    const old = (await cluster.leader())!;
    await cluster.kill(old, 'SIGKILL');
    const rest = VALIDATORS.filter((n) => n !== old);
    const t0 = Date.now();
    const next = await until('a new leader', () => cluster.leader(rest), 30_000);
    console.log(`failover: new leader ${next} after ${Date.now() - t0} ms`);
    expect(next).not.toBe(old);
    const r = await cluster
      .client(rest[0]!)
      .submit(hospital(100), admin, { mode: 'commit', timeoutMs: 20_000 });
    expect(r.status.status).toBe('committed');
    // A stopped node, restarted, catches up.
    cluster.start(old);
    await until(
      'the restarted node to catch up',
      () => converged([...VALIDATORS, 'node6']),
      60_000,
    );
  }, 120_000);

  it('the observer follows the chain without voting', async () => {
    const s = (await cluster.status('node6'))!;
    expect(s.role).toBe('learner');
    expect(s.validators).not.toContain(s.nodeId);
    expect(s.observers).toContain(s.nodeId);
    const [h1] = await heights(['node1']);
    expect(s.height).toBe(h1);
  });

  it('a peer that is not a member can neither join nor sync', async () => {
    const outsider = cluster.node('node6');
    const dir = join(cluster.dir, 'outsider');
    mkdirSync(dir, { recursive: true });
    saveKeyFile(join(dir, 'node.key.json'), generateKeyPair(), { dev: true });
    const port = outsider.p2pPort + 1;
    const gateway = outsider.gatewayPort + 1;
    const boots = cluster.plan.nodes
      .slice(0, 5)
      .map((n) => `    - /ip4/127.0.0.1/tcp/${n.p2pPort}/p2p/${peerIdOf(n.nodeId).toString()}`);
    writeFileSync(
      join(dir, 'node.yaml'),
      [
        'name: outsider',
        'dataDir: data',
        'keyFile: node.key.json',
        `genesisFile: ${cluster.plan.genesis}`,
        'p2p:',
        `  listen: [/ip4/127.0.0.1/tcp/${port}]`,
        '  bootstrap:',
        ...boots,
        'gateway:',
        `  port: ${gateway}`,
        '',
      ].join('\n'),
    );
    cluster.start('outsider', join(dir, 'node.yaml'));
    const url = `http://127.0.0.1:${gateway}/`;
    const c = new RpcClient(url);
    await until('the outsider to answer', () => c.status(), 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    const s = await c.status();
    expect(s.height).toBe(0);
    expect(s.peers).toBe(0);
    for (const v of VALIDATORS) {
      const peers = await cluster.client(v).call<{ nodeId: string }[]>('node_peers');
      expect(peers.map((p) => p.nodeId)).not.toContain(s.nodeId);
    }
    await cluster.kill('outsider');
  }, 60_000);
});
