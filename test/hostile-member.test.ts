/**
 * A member's key in hostile hands (test/harness/rogue-member.ts, run while the real member is
 * stopped): consensus messages with terms and indexes up to 2^53-1 and block announcements of
 * height 10^12. Before, one such message halted every node for good (the term was saved, then
 * term + 1 could not be encoded) and an announcement left every node "catching up" to 10^12
 * until restarted. Now both are refused and counted, each node says which peer sent them, the
 * network keeps committing, and it survives restarts.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { EhrClient } from '@ehr/api';
import { generateSecretKey } from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';

const ROGUE = resolve(import.meta.dirname, 'harness/rogue-member.ts');
const NAMES = ['node1', 'node2', 'node3'];

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
});

async function metric(name: string, pattern: RegExp): Promise<number> {
  const text = await (
    await fetch(`http://127.0.0.1:${cluster.node(name).metricsPort}/metrics`)
  ).text();
  return text
    .split('\n')
    .filter((l) => pattern.test(l))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

async function commitOne(via: string, label: string): Promise<void> {
  const r = await new EhrClient(cluster.node(via).gatewayUrl, generateSecretKey(), {
    timeoutMs: 30_000,
  }).patient.register({ name: label });
  expect(r.status).toBe('committed');
}

describe('a hostile member', () => {
  it('cannot halt the network with extreme terms nor park it on a fake height', async () => {
    await commitOne('node1', 'before');
    // The member whose key the rogue uses is stopped; the other two keep a quorum.
    const leader = (await cluster.leader())!;
    const victim = NAMES.find((n) => n !== leader)!;
    const rest = NAMES.filter((n) => n !== victim);
    await cluster.kill(victim);
    const run = spawnSync(process.execPath, [ROGUE, cluster.node(victim).config, '5'], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    const sent = JSON.parse(run.stdout) as {
      consensus: number;
      announcements: number;
      peers: number;
    };
    expect(sent.peers).toBeGreaterThan(0);
    expect(sent.consensus).toBeGreaterThan(0);

    for (const n of rest) {
      const st = await until(`${n} answers`, () => cluster.status(n), 30_000);
      expect(st.halted).toBeNull();
      // The fake height was never taken: only the current term's leader is believed.
      expect(st.networkHeight).toBeLessThan(1e6);
      // Not parked: a claim taken in the rogue's last moments (or the election after it) may
      // still be settling when the rogue exits, so "catching up" must end by itself, soon,
      // without a restart (before the fix it lasted until one). Reading it at one instant was
      // racy under CI load; the status seen then is printed to say why.
      if (st.catchingUp) console.error(`${n} still catching up as the rogue exits:`, st.sync, st);
      let highest = st.networkHeight;
      const settled = await until(
        `${n} not catching up`,
        async () => {
          const s = await cluster.status(n);
          highest = Math.max(highest, s?.networkHeight ?? 0);
          return s && !s.catchingUp ? s : undefined;
        },
        20_000,
      );
      expect(settled.catchingUp).toBe(false);
      expect(highest).toBeLessThan(1e6);
      expect(st.term).toBeLessThan(2 ** 48);
      expect(
        await metric(n, /^ehr_consensus_refused_total\{reason="out_of_range"\}/),
      ).toBeGreaterThan(0);
      // One line, naming the peer, not one per message.
      const lines = cluster
        .log(n)
        .split('\n')
        .filter((l) => l.includes('refused a consensus message from a member'));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.length).toBeLessThan(5);
      expect(lines[0]).toContain(cluster.node(victim).nodeId);
    }
    // The network goes on, with the real member back...
    await until('a leader after the rogue', () => cluster.leader(rest), 60_000);
    await commitOne(rest[0]!, 'after');
    cluster.start(victim);
    // ...and after every node restarts (nothing out of range was saved).
    for (const n of NAMES) {
      await cluster.kill(n);
      cluster.start(n);
    }
    await until('a leader after restarts', () => cluster.leader(), 90_000);
    await commitOne('node2', 'after restarts');
    const st = await until(
      'all three nodes on one block',
      async () => {
        const all = await Promise.all(NAMES.map((n) => cluster.status(n)));
        return all.every((s) => s && s.height === all[0]!.height && s.halted === null)
          ? all
          : undefined;
      },
      60_000,
    );
    for (const s of st) {
      expect(s!.networkHeight).toBe(s!.height);
      expect(s!.catchingUp).toBe(false);
    }
  }, 300_000);
});
