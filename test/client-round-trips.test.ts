/**
 * Issue 16, the typed client's round trips against a real daemon: once the session knows its
 * nonce and has read the hospital and its own consents, a report costs exactly one request
 * (tx_submit). A hospital's key rotation reaches sealing once the directory TTL passes; another
 * device of the same account taking the nonce first is recovered (NONCE_USED, a fresh nonce and a
 * fresh read of the consents that device may have changed), in both directions: a share the
 * other device made is covered, a revoke it made is respected.
 */
import { EhrClient, RpcClient, type SubmitResult } from '@ehr/api';
import {
  decodeTx,
  decodeWrappedKey,
  generateSecretKey,
  loadKeyFile,
  publicKeyOf,
  toHex,
  unwrapDataKey,
} from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
let admin: EhrClient;
const cityKey = generateSecretKey();
const lakeKey = generateSecretKey();
const riverKeys = [generateSecretKey(), generateSecretKey()];

/** An RpcClient that records every request's method and the transactions it submits. */
class Counting extends RpcClient {
  readonly calls: string[] = [];
  readonly txs: Uint8Array[] = [];
  override call<T = unknown>(method: string, params?: unknown, timeoutMs?: number): Promise<T> {
    this.calls.push(method);
    return super.call<T>(method, params, timeoutMs);
  }
  override submitEncoded(
    tx: Uint8Array,
    opts?: Parameters<RpcClient['submitEncoded']>[1],
  ): Promise<SubmitResult> {
    this.txs.push(tx);
    return super.submitEncoded(tx, opts);
  }
  /** The calls since the last take. */
  take(): string[] {
    return this.calls.splice(0);
  }
}

const url = () => cluster.node('node1').gatewayUrl;

function device(key: Uint8Array, opts: { directoryTtlMs?: number } = {}) {
  const rpc = new Counting(url());
  return { rpc, ehr: new EhrClient(rpc, key, { timeoutMs: 20_000, ...opts }) };
}

/** The hospitals a submitted record.submit carries a wrapped key for, with each key's recipient. */
function hospitalKeysOf(tx: Uint8Array): Map<string, Uint8Array> {
  const p = decodeTx(tx).payload as {
    hospitalKeys: Map<string, Uint8Array> | Record<string, Uint8Array>;
  };
  const entries =
    p.hospitalKeys instanceof Map ? [...p.hospitalKeys] : Object.entries(p.hospitalKeys);
  return new Map(entries);
}

const report = (ehr: EhrClient, hospital = 'city', text = 'chest pain after climbing stairs') =>
  ehr.patient.submitReport({
    content: { type: 'text', text },
    hospital,
    specialization: 'cardiology',
  });

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.start('node1');
  await until('a leader', () => cluster.leader(['node1']), 60_000);
  admin = new EhrClient(url(), loadKeyFile(cluster.plan.adminKey).secretKey, {
    timeoutMs: 20_000,
  });
  for (const [id, key] of [
    ['city', cityKey],
    ['lake', lakeKey],
    ['river', riverKeys[0]!],
  ] as const) {
    await admin.admin.addHospital({
      id,
      name: `${id} hospital`,
      specializations: ['cardiology'],
      encryptionKey: toHex(publicKeyOf(key)),
    });
  }
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('typed client round trips', () => {
  it('after the first, a report costs exactly one request: tx_submit', async () => {
    const { rpc, ehr } = device(generateSecretKey());
    await ehr.patient.register({ name: 'Ada' });
    rpc.take();
    const first = await report(ehr);
    expect(first.status).toBe('committed');
    // The first report learns the hospital and the consents (the nonce is known from sign-up).
    expect(rpc.take().sort()).toEqual(['hospital_get', 'patient_consents', 'tx_submit']);
    for (let i = 0; i < 3; i++) {
      const r = await report(ehr, 'city', `follow-up ${i}`);
      expect(r.status).toBe('committed');
      expect(rpc.take()).toEqual(['tx_submit']);
    }
    // Sharing changes the consents: the next report reads them again, then one request again.
    await ehr.patient.share({ hospital: 'lake' });
    rpc.take();
    await report(ehr);
    // (share read lake afresh; the session remembers it.)
    expect(rpc.take().sort()).toEqual(['patient_consents', 'tx_submit']);
    expect([...hospitalKeysOf(rpc.txs.at(-1)!).keys()].sort()).toEqual(['city', 'lake']);
    await report(ehr);
    expect(rpc.take()).toEqual(['tx_submit']);
    // Every report landed, in order, under consecutive nonces.
    const mine = await ehr.patient.reports();
    expect(mine).toHaveLength(6);
    expect((await ehr.account()).nonce).toBe(8);
  });

  it("a hospital's key rotation reaches sealing once the directory TTL passes", async () => {
    const ttl = 1500;
    const { rpc, ehr } = device(generateSecretKey(), { directoryTtlMs: ttl });
    await ehr.patient.register({ name: 'Ben' });
    await report(ehr, 'river');
    const before = hospitalKeysOf(rpc.txs.at(-1)!).get('river')!;
    expect(toHex(decodeWrappedKey(before).recipient)).toBe(toHex(publicKeyOf(riverKeys[0]!)));
    await admin.session.submit('hospital.update', {
      id: 'river',
      encryptionKey: publicKeyOf(riverKeys[1]!),
    });
    const rotatedAt = Date.now();
    await new Promise((r) => setTimeout(r, ttl + 100));
    rpc.take();
    await report(ehr, 'river');
    // Read again (the entry is older than the TTL), sealed for the new key, which opens it.
    expect(rpc.take().sort()).toEqual(['hospital_get', 'tx_submit']);
    const after = decodeWrappedKey(hospitalKeysOf(rpc.txs.at(-1)!).get('river')!);
    expect(toHex(after.recipient)).toBe(toHex(publicKeyOf(riverKeys[1]!)));
    expect(unwrapDataKey(after, riverKeys[1]!)).toHaveLength(32);
    expect(Date.now() - rotatedAt).toBeGreaterThan(ttl);
  });

  it('another device of the account took the nonce: recovered, and its share and revoke are seen', async () => {
    const key = generateSecretKey();
    const a = device(key);
    const b = device(key);
    await a.ehr.patient.register({ name: 'Cleo' });
    await report(a.ehr);
    await report(a.ehr);
    a.rpc.take();
    // Device B shares with lake: it takes the nonce device A counts on.
    await b.ehr.patient.share({ hospital: 'lake' });
    const shared = await report(a.ehr);
    expect(shared.status).toBe('committed');
    // Refused (NONCE_USED), nonce and consents read again (and lake, new to this session),
    // built and signed again: lake is covered.
    expect(a.rpc.take()).toEqual([
      'tx_submit',
      'account_get',
      'patient_consents',
      'hospital_get',
      'tx_submit',
    ]);
    expect([...hospitalKeysOf(a.rpc.txs.at(-1)!).keys()].sort()).toEqual(['city', 'lake']);
    const lakeWrapped = decodeWrappedKey(hospitalKeysOf(a.rpc.txs.at(-1)!).get('lake')!);
    expect(unwrapDataKey(lakeWrapped, lakeKey)).toHaveLength(32);
    // Device B revokes lake: device A's next report must not carry a key for lake.
    await b.ehr.patient.revoke('lake');
    await report(a.ehr);
    expect(a.rpc.take()).toEqual(['tx_submit', 'account_get', 'patient_consents', 'tx_submit']);
    expect([...hospitalKeysOf(a.rpc.txs.at(-1)!).keys()]).toEqual(['city']);
    // And back to one request.
    await report(a.ehr);
    expect(a.rpc.take()).toEqual(['tx_submit']);
    expect(await a.ehr.patient.reports()).toHaveLength(5);
  });

  it('concurrent reports from one session take consecutive nonces (no clash, no retry)', async () => {
    const { rpc, ehr } = device(generateSecretKey());
    await ehr.patient.register({ name: 'Dan' });
    await report(ehr);
    rpc.take();
    const rs = await Promise.all([0, 1, 2, 3].map((i) => report(ehr, 'city', `note ${i}`)));
    expect(rs.every((r) => r.status === 'committed')).toBe(true);
    expect(rpc.take()).toEqual(['tx_submit', 'tx_submit', 'tx_submit', 'tx_submit']);
    const nonces = rpc.txs.slice(-4).map((t) => decodeTx(t).nonce);
    expect(new Set(nonces).size).toBe(4);
    expect((await ehr.account()).nonce).toBe(6);
  });
});
