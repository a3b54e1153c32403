/**
 * Issue 11 with real daemons: a patient's last word is the last word. A share that timed out
 * can never land after the revoke that followed it (through another node); refused transactions
 * are not gossiped and leave every node's nonce alone; an exact replay answers the original's
 * status on every node, also after a restart; one signed read is served by one node only.
 * And a seeded random schedule of share / share-with-expiry / revoke through random nodes, with
 * the leader frozen at random moments, ends with every node holding the effect of the patient's
 * last committed action, and her committed actions in the order she issued them.
 */
import { EhrClient, RpcClient, RpcError, type SubmitResult } from '@ehr/api';
import {
  encodeTx,
  generateSecretKey,
  isEhrError,
  loadKeyFile,
  publicKeyOf,
  signTx,
  toHex,
  txHash,
} from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prng } from './harness/chaos.ts';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
let names: string[];
let adminKey: Uint8Array;
const cityKey = generateSecretKey();

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 3 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
  names = cluster.plan.nodes.map((n) => n.name);
  await until(
    'every gateway',
    async () => (await Promise.all(names.map((n) => cluster.status(n)))).every(Boolean),
    60_000,
  );
  adminKey = loadKeyFile(cluster.plan.adminKey).secretKey;
  const admin = new EhrClient(cluster.client('node1'), adminKey, { timeoutMs: 20_000 });
  await admin.admin.addHospital({
    id: 'city',
    name: 'City General',
    specializations: ['cardiology'],
    encryptionKey: toHex(publicKeyOf(cityKey)),
  });
}, 120_000);

afterAll(async () => {
  for (const n of names ?? []) cluster?.resume(n);
  await cluster?.stop();
});

/**
 * An RpcClient that remembers the hash of every transaction it submits, and can run a fault
 * (freeze the leader) at the moment the first one leaves: after the client's reads, before its
 * transaction reaches a node.
 */
class Recording extends RpcClient {
  readonly hashes: string[] = [];
  beforeSubmit: (() => void) | undefined;
  override submitEncoded(
    tx: Uint8Array,
    opts?: Parameters<RpcClient['submitEncoded']>[1],
  ): Promise<SubmitResult> {
    this.hashes.push(toHex(txHash(tx)));
    this.beforeSubmit?.();
    this.beforeSubmit = undefined;
    return super.submitEncoded(tx, opts);
  }
}

async function leaderName(): Promise<string> {
  return until('a leader', () => cluster.leader(), 30_000);
}

async function patient(name: string) {
  const key = generateSecretKey();
  const c = new EhrClient(cluster.client('node1'), key, { timeoutMs: 20_000 });
  await c.patient.register({ name });
  return key;
}

/** Waits until every node is at the same height (and at least `min`). */
async function converged(min = 0): Promise<number> {
  return until(
    'all nodes at one height',
    async () => {
      const hs = await Promise.all(names.map(async (n) => (await cluster.status(n))?.height));
      const h = hs[0];
      return h !== undefined && h >= min && hs.every((x) => x === h) ? h : undefined;
    },
    60_000,
  );
}

type Consent = { hospital: string; expiresAt: number | null; revokedAt: number | null };

async function consentOn(node: string, key: Uint8Array): Promise<Consent | undefined> {
  const c = new EhrClient(cluster.client(node), key);
  return (await c.patient.consents()).find((x) => x.hospital === 'city');
}

describe('consent finality', () => {
  it('a share that timed out never lands after the revoke that followed it', async () => {
    const erin = await patient('Erin');
    const [, a, b] = names as [string, string, string];
    const leader = await leaderName();
    const followerA = leader === a ? names[0]! : a;
    const followerB = [b, names[0]!].find((n) => n !== leader && n !== followerA)!;
    // First share commits.
    await new EhrClient(cluster.client(followerA), erin).patient.share({
      hospital: 'city',
      expiresAt: Date.now() + 30 * 86_400_000,
    });
    // A share through one follower: the leader freezes as it is submitted, so it times out at
    // the client (300 ms: no new leader can be elected that fast)...
    const rpcA = new Recording(cluster.node(followerA).gatewayUrl);
    rpcA.beforeSubmit = () => cluster.pause(leader);
    let timeout: unknown;
    let revoke: Awaited<ReturnType<EhrClient['patient']['revoke']>>;
    try {
      try {
        await new EhrClient(rpcA, erin, { timeoutMs: 300 }).patient.share({
          hospital: 'city',
          expiresAt: Date.now() + 60 * 86_400_000,
        });
      } catch (err) {
        timeout = err;
      }
      expect(isEhrError(timeout) && timeout.code, String(timeout)).toBe('TX_TIMEOUT');
      // ...and says until when it can still commit, never after.
      expect((timeout as Error).message).toMatch(/can still commit until .* and never after/);
      expect((timeout as { data: { canCommitUntil: number } }).data.canCommitUntil).toBeGreaterThan(
        Date.now(),
      );
      // The patient revokes through the other follower (a new leader is elected meanwhile).
      revoke = await new EhrClient(cluster.client(followerB), erin, {
        timeoutMs: 30_000,
      }).patient.revoke('city');
      expect(revoke.status).toBe('committed');
    } finally {
      cluster.resume(leader);
    }
    // Whatever became of the share (it lost its nonce to the revoke, or committed before it and
    // the revoke was signed again after it), the revoke is the last word on every node.
    await converged(revoke.height);
    for (const n of names) {
      expect((await consentOn(n, erin))?.revokedAt, `consent on ${n}`).not.toBeNull();
    }
  });

  it('a refused transaction is not gossiped: every node keeps the same committed nonce, nothing pending', async () => {
    const fay = await patient('Fay');
    const faySession = new EhrClient(cluster.client('node2'), fay);
    let refused: unknown;
    try {
      await faySession.patient.revoke('city'); // never shared: CONSENT_MISSING
    } catch (err) {
      refused = err;
    }
    expect(isEhrError(refused) && refused.code).toBe('CONSENT_MISSING');
    const hash = (refused as { data: { hash: string } }).data.hash;
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of names) {
      const acc = await cluster
        .client(n)
        .call<{ nonce: number; pending: unknown[] }>('account_get', {
          key: toHex(publicKeyOf(fay)),
        });
      expect(acc, n).toMatchObject({ nonce: 1, pending: [] });
      if (n === 'node2') continue;
      // Never relayed: the other nodes have not heard of it.
      await expect(cluster.client(n).call('tx_status', { hash })).rejects.toBeInstanceOf(RpcError);
    }
    // Its status on the node that refused it is honest: not final, valid until its deadline.
    const st = await cluster
      .client('node2')
      .call<{ status: Record<string, unknown> }>('tx_status', { hash });
    expect(st.status).toMatchObject({ status: 'rejected', code: 'CONSENT_MISSING', final: false });
    expect(st.status['canCommitUntil']).toBeGreaterThan(Date.now());
    // The next transaction takes nonce 1 on any node and commits.
    const ok = await new EhrClient(cluster.client('node3'), fay).patient.share({
      hospital: 'city',
    });
    expect(ok.txs[0]!.status).toBe('committed');
  });

  it('an exact replay answers the original on every node, also after a restart', async () => {
    const gus = generateSecretKey();
    const chainId = cluster.plan.chainId;
    const tx = encodeTx(
      signTx(
        {
          chainId,
          author: publicKeyOf(adminKey),
          nonce: (
            await cluster.client('node1').call<{ nonce: number }>('account_get', {
              key: toHex(publicKeyOf(adminKey)),
            })
          ).nonce,
          kind: 'hospital.register',
          payload: {
            id: 'north',
            name: 'North',
            address: '',
            specializations: ['cardiology'],
            contact: '',
            nodes: [],
            encryptionKey: publicKeyOf(gus),
          },
          expires: Date.now() + 120_000,
        },
        adminKey,
      ),
    );
    const first = await cluster.client('node1').submitEncoded(tx, { mode: 'commit' });
    expect(first.status).toMatchObject({ status: 'committed', ok: true, final: true });
    const at = first.status as { height: number; index: number };
    await converged(at.height);
    const replay = async (n: string) =>
      (await cluster.client(n).submitEncoded(tx, { mode: 'commit' })).status;
    for (const n of names) {
      expect(await replay(n), n).toMatchObject({
        status: 'committed',
        height: at.height,
        index: at.index,
        duplicate: true,
        final: true,
      });
    }
    await cluster.kill('node2', 'SIGTERM');
    cluster.start('node2');
    await until('node2 back', async () => (await cluster.status('node2'))?.height, 60_000);
    expect(await replay('node2')).toMatchObject({
      status: 'committed',
      height: at.height,
      duplicate: true,
    });
  });

  it('one signed read is served by the node it names, refused by every other', async () => {
    const hal = await patient('Hal');
    const c = new EhrClient(cluster.client('node1'), hal);
    const s = c.session;
    // Sign one read for node1 and send the very same params to all three.
    const { signRead } = await import('@ehr/api');
    const node1 = (await cluster.client('node1').status()).nodeId;
    const params = signRead(
      { chainId: cluster.plan.chainId, node: node1 },
      'patient_consents',
      { patient: s.key },
      hal,
    );
    const answers = await Promise.all(
      names.map((n) =>
        cluster
          .client(n)
          .call('patient_consents', params)
          .then(
            () => 'served',
            (e: unknown) => (e instanceof RpcError ? (e.data as { code: string }).code : String(e)),
          ),
      ),
    );
    expect(answers).toEqual(['served', 'READ_WRONG_NODE', 'READ_WRONG_NODE']);
    // And node1 serves it once.
    await expect(cluster.client('node1').call('patient_consents', params)).rejects.toMatchObject({
      data: { code: 'READ_REPLAYED' },
    });
  });
});

type Action = { kind: 'share'; expiresAt: number | undefined } | { kind: 'revoke' };

describe('consent finality under random schedules', () => {
  it('share / share-with-expiry / revoke through random nodes, leader frozen at random: the last committed action wins everywhere, in issue order', async () => {
    const seed = Number(process.env['CONSENT_SEED'] ?? 11);
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const ivy = await patient('Ivy');
    const DEADLINE_MS = 15_000;
    const steps: {
      action: Action;
      node: string;
      froze: string | null;
      outcome: string;
      hashes: string[];
    }[] = [];
    let lastDeadline = 0;
    for (let i = 0; i < 8; i++) {
      const action: Action =
        rand() < 0.5
          ? { kind: 'revoke' }
          : {
              kind: 'share',
              expiresAt: rand() < 0.4 ? Date.now() + 4_000 + Math.floor(rand() * 4_000) : undefined,
            };
      const leader = await leaderName();
      const froze = rand() < 0.4 ? leader : null;
      const node = pick(names.filter((n) => n !== froze));
      const rpc = new Recording(cluster.node(node).gatewayUrl);
      if (froze) rpc.beforeSubmit = () => cluster.pause(froze);
      // Impatient clients (300 ms: less than any failover) time out while the leader is frozen.
      const timeoutMs = rand() < 0.5 ? 300 : 2_500;
      const c = new EhrClient(rpc, ivy, { timeoutMs, deadlineMs: DEADLINE_MS });
      let outcome: string;
      try {
        if (action.kind === 'revoke') await c.patient.revoke('city');
        else
          await c.patient.share({
            hospital: 'city',
            ...(action.expiresAt ? { expiresAt: action.expiresAt } : {}),
          });
        outcome = 'committed';
      } catch (err) {
        outcome = isEhrError(err)
          ? err.code
          : err instanceof RpcError
            ? `rpc ${err.code}`
            : String(err);
      }
      if (rpc.hashes.length > 0) lastDeadline = Date.now() + DEADLINE_MS;
      steps.push({ action, node, froze, outcome, hashes: rpc.hashes });
      if (froze) {
        await new Promise((r) => setTimeout(r, Math.floor(rand() * 1500)));
        cluster.resume(froze);
      }
    }
    const log = steps
      .map(
        (s, i) =>
          `${i}: ${s.action.kind}${s.action.kind === 'share' && s.action.expiresAt ? ' (expiring)' : ''} via ${s.node}${s.froze ? `, ${s.froze} frozen` : ''} -> ${s.outcome} [${s.hashes.length} tx]`,
      )
      .join('\n');
    console.log(`consent schedule, seed ${seed} (replay: CONSENT_SEED=${seed}):\n${log}`);
    // Past every deadline nothing can change any more; let every node catch up.
    await new Promise((r) => setTimeout(r, Math.max(0, lastDeadline + 2_000 - Date.now())));
    const head = await converged();
    // Where did each step's transactions end up?
    const committed: { step: number; height: number; index: number }[] = [];
    for (const [i, s] of steps.entries()) {
      for (const hash of s.hashes) {
        const st = await cluster
          .client(names[0]!)
          .call<{
            status: {
              status: string;
              ok?: boolean;
              height?: number;
              index?: number;
              final: boolean;
            };
          }>('tx_status', { hash })
          .catch(() => undefined);
        if (st?.status.status === 'committed' && st.status.ok) {
          committed.push({ step: i, height: st.status.height!, index: st.status.index! });
        }
      }
    }
    committed.sort((x, y) => x.height - y.height || x.index - y.index);
    // Committed in the order the patient issued them.
    const order = committed.map((c) => c.step);
    expect(order, log).toEqual([...order].sort((x, y) => x - y));
    // An acknowledged commit is in the chain; the last acknowledged one is the last committed.
    const acked = steps.flatMap((s, i) => (s.outcome === 'committed' ? [i] : []));
    for (const i of acked) expect(order, `step ${i}\n${log}`).toContain(i);
    if (acked.length > 0 && committed.length > 0) {
      expect(order.at(-1)!, log).toBeGreaterThanOrEqual(acked.at(-1)!);
    }
    // Every node holds exactly the effect of the last committed action.
    const last = committed.at(-1);
    const states = await Promise.all(names.map((n) => consentOn(n, ivy)));
    for (const st of states) expect(st, log).toEqual(states[0]);
    if (last) {
      const a = steps[last.step]!.action;
      if (a.kind === 'revoke') expect(states[0]?.revokedAt, log).not.toBeNull();
      else {
        expect(states[0]?.revokedAt, log).toBeNull();
        expect(states[0]?.expiresAt ?? null, log).toBe(a.expiresAt ?? null);
      }
    } else {
      expect(states[0], log).toBeUndefined();
    }
    expect(head).toBeGreaterThan(0);
  });
});
