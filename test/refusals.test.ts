/**
 * A peer that is not a member dials a validator daemon again and again: the validator refuses it
 * (as before), counts every refusal in `ehr_p2p_refused_total{reason}` and logs it at warn, at
 * most one line per peer and reason per minute (issue 12, item 7).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RpcClient } from '@ehr/api';
import { generateKeyPair, publicKeyOf, saveKeyFile, toHex } from '@ehr/core';
import { peerIdOf } from '@ehr/p2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1, observers: 1 });
  cluster.start('node1');
  await until('a leader', () => cluster.leader(['node1']), 60_000);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

const refusedTotal = (metrics: string) =>
  [...metrics.matchAll(/^ehr_p2p_refused_total\{reason="(\w+)"\} (\d+)$/gm)].reduce(
    (n, m) => n + Number(m[2]),
    0,
  );

describe('refused peers are counted and logged', () => {
  it('an outsider retrying: every refusal counted, the log rate-limited', async () => {
    const member = cluster.node('node1');
    // The observer slot of the plan gives free ports; the key is a fresh one, not a member.
    const slot = cluster.node('node2');
    const dir = join(cluster.dir, 'outsider');
    mkdirSync(dir, { recursive: true });
    const key = generateKeyPair();
    saveKeyFile(join(dir, 'node.key.json'), key, { dev: true });
    const outsiderId = toHex(publicKeyOf(key.secretKey));
    writeFileSync(
      join(dir, 'node.yaml'),
      [
        'name: outsider',
        'dataDir: data',
        'keyFile: node.key.json',
        `genesisFile: ${cluster.plan.genesis}`,
        'p2p:',
        `  listen: [/ip4/127.0.0.1/tcp/${slot.p2pPort}]`,
        '  bootstrap:',
        `    - /ip4/127.0.0.1/tcp/${member.p2pPort}/p2p/${peerIdOf(member.nodeId).toString()}`,
        'gateway:',
        `  port: ${slot.gatewayPort}`,
        '',
      ].join('\n'),
    );
    const metricsUrl = `http://127.0.0.1:${member.metricsPort}/metrics`;
    const before = refusedTotal(await (await fetch(metricsUrl)).text());
    // Three outsider starts, each dialling the validator (and retrying) while it runs.
    for (let round = 0; round < 3; round++) {
      cluster.start('outsider', join(dir, 'node.yaml'));
      const c = new RpcClient(`http://127.0.0.1:${slot.gatewayPort}/`);
      await until('the outsider to answer', () => c.status(), 30_000);
      await new Promise((r) => setTimeout(r, 2000));
      expect((await c.status()).peers).toBe(0);
      await cluster.kill('outsider');
    }
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/^ehr_p2p_refused_total\{reason="inbound"\} \d+$/m);
    const refused = refusedTotal(metrics) - before;
    expect(refused).toBeGreaterThanOrEqual(3);
    const lines = cluster
      .log('node1')
      .split('\n')
      .filter((l) => l.includes('refused a peer that is not a member'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const aboutOutsider = lines.filter((l) => l['peer'] === outsiderId);
    expect(aboutOutsider.length).toBeGreaterThan(0);
    expect(aboutOutsider.every((l) => l['level'] === 40)).toBe(true);
    // One line per reason within the minute, however many refusals.
    const reasons = aboutOutsider.map((l) => l['reason']);
    expect(new Set(reasons).size).toBe(reasons.length);
    console.log(
      `outsider refused ${refused} times; ${aboutOutsider.length} log line(s): ${reasons.join(', ')}`,
    );
  }, 120_000);
});
