/**
 * Every method's answer, from a real daemon with real data in it (hospitals, doctors, a patient
 * with a report, a document, a consent, a prescription, reads on the audit trail, a governance
 * proposal), fits the result schema the OpenRPC document declares for it. The schemas allow no
 * unlisted field, so a shape that changes without its schema fails here.
 */
import { check, METHODS, RESULTS, RpcClient, type Schema } from '@ehr/api';
import { fromHex, generateSecretKey, loadKeyFile, publicKeyOf } from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Actor, sealFor } from './harness/actors.ts';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
let rpc: RpcClient;
let chainId: string;
let admin: Actor;
let alice: Actor;
let heart: Actor;
let reportId: string;
let docId: string;
let rxId: string;
let txHash: string;
const seen = new Map<string, number>();

/** The answer fits the declared schema (the message names the first misfit). */
function fits(method: string, value: unknown): void {
  const schema = RESULTS[method] as Schema | undefined;
  expect(schema, `${method} declares a result schema`).toBeDefined();
  expect(check(schema!, value, method), JSON.stringify(value)?.slice(0, 400)).toBeNull();
  seen.set(method, (seen.get(method) ?? 0) + 1);
}

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 30_000);
  rpc = new RpcClient(cluster.node('node1').gatewayUrl);
  chainId = cluster.plan.chainId;
  admin = new Actor('admin', rpc, chainId, loadKeyFile(cluster.plan.adminKey).secretKey);
  alice = new Actor('alice', rpc, chainId);
  heart = new Actor('heart', rpc, chainId);
  const city = generateSecretKey();
  const cityPub = publicKeyOf(city);
  await admin.send('hospital.register', {
    id: 'city-general',
    name: 'City General',
    address: '1 road',
    specializations: ['cardiology'],
    contact: 'desk@city.example',
    nodes: [],
    encryptionKey: cityPub,
  });
  await admin.send('doctor.register', {
    doctor: heart.key,
    hospital: 'city-general',
    name: 'Dr. Heart',
    specialization: 'cardiology',
    qualification: 'MD',
    experience: 12,
    contact: 'heart@city.example',
  });
  await alice.signUp('Alice, born 1980');
  reportId = (await alice.submitReport('city-general', 'cardiology', 'chest pain', cityPub)).id;
  const doc = sealFor('ECG', [alice.key, cityPub]);
  docId = (
    await alice.send(
      'record.attach',
      {
        report: reportId,
        ...doc.ref,
        patientKey: doc.keys[0]!,
        hospitalKeys: { 'city-general': doc.keys[1]! },
      },
      [doc.body],
    )
  ).hash;
  await alice.send('consent.grant', { hospital: 'city-general', scope: 'all' });
  const rx = sealFor('aspirin', [alice.key, cityPub]);
  const written = await heart.send(
    'prescription.write',
    { record: reportId, ...rx.ref, patientKey: rx.keys[0]!, hospitalKey: rx.keys[1]! },
    [rx.body],
  );
  rxId = written.hash;
  txHash = written.hash;
  await admin.send('governance.propose', {
    action: 'add',
    role: 'admin',
    subject: fromHex('ab'.repeat(32)),
    reason: 'a second admin',
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('result schemas', () => {
  it('every method answers what its declared result schema says', async () => {
    const call = async (method: string, params?: Record<string, unknown>) => {
      const r = await rpc.call(method, params);
      fits(method, r);
      return r;
    };
    const status = (await call('status')) as { hash: string; height: number };
    await call('chain_config');
    await call('chain_getBlock', { height: 1 });
    await call('chain_getBlock', { hash: status.hash });
    await call('chain_getTx', { hash: txHash });
    await call('chain_getProof', { hash: txHash });
    await call('tx_status', { hash: txHash });
    for (const key of [alice.hex, heart.hex, admin.hex, 'cd'.repeat(32)])
      await call('account_get', { key });
    await call('hospital_list');
    await call('chain_blocks', { limit: 2 });
    await call('hospital_get', { id: 'city-general' });
    await call('doctor_list', { hospital: 'city-general' });
    await call('doctor_get', { key: heart.hex });
    const proposals = ((await call('gov_proposals')) as { items: { id: string }[] }).items;
    expect(proposals.length).toBeGreaterThan(0);
    await call('gov_proposal', { id: proposals[0]!.id });
    await call('gov_validators');
    await call('gov_members');
    await call('node_peers');
    await call('node_metrics');
    await call('rpc.discover');

    const read = async (who: Actor, method: string, params: Record<string, unknown>) => {
      const r = await who.read(method, params);
      fits(method, r);
      return (r as { items: unknown[] }).items;
    };
    expect(await read(alice, 'patient_reports', { patient: alice.hex })).toHaveLength(1);
    expect(await read(alice, 'patient_documents', { patient: alice.hex })).toHaveLength(1);
    await read(alice, 'patient_documents', { patient: alice.hex, report: reportId });
    expect(await read(alice, 'patient_prescriptions', { patient: alice.hex })).toHaveLength(1);
    expect(await read(alice, 'patient_consents', { patient: alice.hex })).toHaveLength(1);
    await read(heart, 'doctor_reports', { doctor: heart.hex });
    await read(heart, 'doctor_patients', { doctor: heart.hex });
    await read(heart, 'record_documents', { id: reportId });
    await read(heart, 'record_get', { id: reportId, purpose: 'TREAT' });
    await read(heart, 'record_get', { id: docId });
    await read(alice, 'record_get', { id: reportId });
    await read(heart, 'prescription_get', { id: rxId });
    await read(alice, 'prescription_get', { id: rxId });
    await read(heart, 'patient_profile', { patient: alice.hex });
    await read(alice, 'patient_profile', { patient: alice.hex });
    expect(await read(alice, 'patient_audit', { patient: alice.hex })).not.toHaveLength(0);

    // A submission answers the same shape as tx_status; a replay is refused, not reshaped.
    const fresh = new Actor('bob', rpc, chainId);
    const profile = sealFor('bob', [fresh.key]);
    const submitted = await rpc.submit(
      {
        chainId,
        nonce: 0,
        kind: 'patient.register',
        payload: {
          profileHash: profile.ref.payloadHash,
          profileSize: profile.ref.payloadSize,
          profileKey: profile.keys[0]!,
        },
      },
      fresh.secret,
      { payloads: [profile.body] },
    );
    fits('tx_submit', submitted);

    // Subscriptions, over WebSocket.
    const ws = new WebSocket(cluster.node('node1').gatewayUrl.replace(/^http/, 'ws'));
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    const replies = new Map<number, { result?: unknown; error?: unknown }>();
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
      if (typeof msg.id === 'number') replies.set(msg.id, msg);
    };
    const wsCall = async (id: number, method: string, params: unknown) => {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
      await until(`reply ${id}`, async () => replies.get(id), 5000);
      const r = replies.get(id)!;
      expect(r.error, method).toBeUndefined();
      fits(method, r.result);
      return r.result;
    };
    const sub = await wsCall(1, 'subscribe', { topic: 'blocks' });
    await wsCall(2, 'unsubscribe', { subscription: sub });
    ws.close();

    // Every method of the catalogue was called and fit.
    expect(METHODS.map((m) => m.name).filter((n) => !seen.has(n))).toEqual([]);
  }, 120_000);

  it('the OpenRPC document declares those schemas, one per method, none empty', async () => {
    const doc = await rpc.call<{ methods: { name: string; result: { schema: unknown } }[] }>(
      'rpc.discover',
    );
    for (const m of doc.methods) {
      expect(m.result.schema, m.name).toEqual(RESULTS[m.name]);
      expect(Object.keys(m.result.schema as object).length, m.name).toBeGreaterThan(0);
    }
    expect(doc.methods).toHaveLength(METHODS.length);
  });

  it('the check names the field that misfits', () => {
    const hospital = RESULTS['hospital_get']!;
    expect(check(hospital, { id: 'x' }, 'result')).toMatch(/^result.name: required/);
    expect(
      check(RESULTS['tx_status']!, { hash: 'ab'.repeat(32), status: { status: 'odd' } }, 'result'),
    ).toMatch(/^result.status/);
    expect(check(RESULTS['status']!, null, 'result')).toMatch(/^result: expected an object/);
  });
});
