/**
 * The paper's story over JSON-RPC against a real daemon: an admin adds hospitals and doctors; a
 * patient signs up, lists hospitals, submits a report with a document; the doctor of the matching
 * specialization sees it pending and reads it; the patient shares with the hospital; the doctor
 * prescribes; the patient reads the prescription and the doctor's name; the patient revokes;
 * the hospital's doctors are denied from then on; the audit trail lists every read. A WebSocket
 * subscription follows the patient's transactions meanwhile.
 */
import { RpcError } from '@ehr/api';
import { generateSecretKey, loadKeyFile, publicKeyOf } from '@ehr/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Actor, openBody, sealFor } from './harness/actors.ts';
import { TestCluster, until } from './harness/cluster.ts';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 30_000);
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

async function denied(p: Promise<unknown>): Promise<{ code: number; reason: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcError) {
      return { code: err.code, reason: (err.data as { code: string }).code };
    }
    throw err;
  }
  throw new Error('expected the read to be denied');
}

describe('three roles over JSON-RPC', () => {
  it('runs the whole story and audits every read', async () => {
    const rpc = cluster.client('node1');
    const chainId = cluster.plan.chainId;
    const adminKey = loadKeyFile(cluster.plan.adminKey).secretKey;
    const admin = new Actor('admin', rpc, chainId, adminKey);
    const heart = new Actor('heart', rpc, chainId);
    const skin = new Actor('skin', rpc, chainId);
    const river = new Actor('river', rpc, chainId);
    const alice = new Actor('alice', rpc, chainId);
    // The hospital's encryption key: data keys are wrapped to it; its doctors hold the secret.
    const citySecret = generateSecretKey();

    // Follow alice's committed transactions over WebSocket.
    const ws = new WebSocket(cluster.node('node1').gatewayUrl.replace(/^http/, 'ws'));
    const seenOverWs: { kind: string }[] = [];
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.method === 'subscription') seenOverWs.push(msg.params.result);
    };
    ws.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscribe',
        params: { topic: 'account', key: alice.hex },
      }),
    );

    // Admin: hospitals and doctors.
    const hospital = (id: string, specializations: string[], encryptionKey: Uint8Array) => ({
      id,
      name: `${id} hospital`,
      address: `1 ${id} road`,
      specializations,
      contact: `desk@${id}.example`,
      nodes: [],
      encryptionKey,
    });
    await admin.send(
      'hospital.register',
      hospital('city-general', ['cardiology', 'dermatology'], publicKeyOf(citySecret)),
    );
    await admin.send(
      'hospital.register',
      hospital('river-clinic', ['cardiology'], publicKeyOf(generateSecretKey())),
    );
    const doctor = (d: Actor, h: string, specialization: string) =>
      admin.send('doctor.register', {
        doctor: d.key,
        hospital: h,
        name: `Dr. ${d.name}`,
        specialization,
        qualification: 'MD',
        experience: 10,
        contact: `${d.name}@example`,
      });
    await doctor(heart, 'city-general', 'cardiology');
    await doctor(skin, 'city-general', 'dermatology');
    await doctor(river, 'river-clinic', 'cardiology');

    // Patient: signs up, lists hospitals, submits a report with a document.
    await alice.signUp('Alice, born 1980, allergic to penicillin');
    const hospitals = (
      await rpc.call<{ items: { id: string; specializations: string[] }[] }>('hospital_list')
    ).items;
    expect(hospitals.map((h) => h.id).sort()).toEqual(['city-general', 'river-clinic']);
    const cityPub = publicKeyOf(citySecret);
    const { id: reportId } = await alice.submitReport(
      'city-general',
      'cardiology',
      'chest pain since Monday',
      cityPub,
    );
    const doc = sealFor('ECG from last year', [alice.key, cityPub]);
    const { hash: docId } = await alice.send(
      'record.attach',
      {
        report: reportId,
        ...doc.ref,
        patientKey: doc.keys[0]!,
        hospitalKeys: { 'city-general': doc.keys[1]! },
      },
      [doc.body],
    );
    const mine = await alice.list<{ id: string; status: string }>('patient_reports', {
      patient: alice.hex,
    });
    expect(mine.map((r) => [r.id, r.status])).toEqual([[reportId, 'pending']]);

    // The cardiologist sees it pending and reads it (and its document); the dermatologist and
    // the other hospital's doctor do not.
    const pending = await heart.list<{ id: string; access: string }>('doctor_reports', {
      doctor: heart.hex,
    });
    expect(pending.map((r) => [r.id, r.access])).toEqual([[reportId, 'PENDING_REPORT']]);
    const patients = await heart.list<{ patient: string }>('doctor_patients', {
      doctor: heart.hex,
    });
    expect(patients.map((p) => p.patient)).toEqual([alice.hex]);
    const got = await heart.read<{ body: string; wrappedKey: string; reason: string }>(
      'record_get',
      { id: reportId, purpose: 'TREAT' },
    );
    expect(got.reason).toBe('PENDING_REPORT');
    expect(openBody(got.body, got.wrappedKey, citySecret)).toBe('chest pain since Monday');
    const gotDoc = await heart.read<{ body: string; wrappedKey: string }>('record_get', {
      id: docId,
    });
    expect(openBody(gotDoc.body, gotDoc.wrappedKey, citySecret)).toBe('ECG from last year');
    const attached = await heart.list<{ id: string }>('record_documents', { id: reportId });
    expect(attached.map((d) => d.id)).toEqual([docId]);
    expect(await skin.list('doctor_reports', { doctor: skin.hex })).toEqual([]);
    expect(await denied(skin.read('record_get', { id: reportId }))).toEqual({
      code: -32011,
      reason: 'CONSENT_MISSING',
    });
    expect(await denied(river.read('record_get', { id: reportId }))).toMatchObject({
      reason: 'CONSENT_MISSING',
    });
    // Who is whose patient is private: another doctor cannot list heart's patients.
    expect(await denied(skin.list('doctor_patients', { doctor: heart.hex }))).toMatchObject({
      reason: 'UNAUTHORIZED',
    });

    // The patient shares with city-general: its dermatologist may now read too.
    await alice.send('consent.grant', { hospital: 'city-general', scope: 'all' });
    const consents = await alice.list<{ hospital: string; inForce: boolean }>('patient_consents', {
      patient: alice.hex,
    });
    expect(consents).toMatchObject([{ hospital: 'city-general', inForce: true }]);
    const shared = await skin.read<{ body: string; wrappedKey: string; reason: string }>(
      'record_get',
      { id: reportId, purpose: 'COC' },
    );
    expect(shared.reason).toBe('CONSENT');
    expect(openBody(shared.body, shared.wrappedKey, citySecret)).toBe('chest pain since Monday');

    // The doctor prescribes; the patient reads it with the doctor's name.
    const rx = sealFor('aspirin 75mg daily, 30 days', [alice.key, cityPub]);
    const { hash: rxId } = await heart.send(
      'prescription.write',
      { record: reportId, ...rx.ref, patientKey: rx.keys[0]!, hospitalKey: rx.keys[1]! },
      [rx.body],
    );
    const rxs = await alice.list<{ id: string; doctorName: string }>('patient_prescriptions', {
      patient: alice.hex,
    });
    expect(rxs.map((p) => [p.id, p.doctorName])).toEqual([[rxId, 'Dr. heart']]);
    const rxBody = await alice.read<{ body: string; wrappedKey: string; reason: string }>(
      'prescription_get',
      { id: rxId },
    );
    expect(rxBody).toMatchObject({ reason: 'PATIENT_OWN', audit: null });
    expect(openBody(rxBody.body, rxBody.wrappedKey, alice.secret)).toBe(
      'aspirin 75mg daily, 30 days',
    );
    const after = await alice.list<{ status: string }>('patient_reports', { patient: alice.hex });
    expect(after.map((r) => r.status)).toEqual(['prescribed']);

    // The patient revokes: the hospital's doctors are denied, for old and new reports alike.
    await alice.send('consent.revoke', { hospital: 'city-general' });
    expect(await denied(heart.read('record_get', { id: reportId }))).toEqual({
      code: -32013,
      reason: 'CONSENT_REVOKED',
    });
    expect(await denied(skin.read('record_get', { id: reportId }))).toMatchObject({
      reason: 'CONSENT_REVOKED',
    });
    const later = sealFor('follow-up: pain is gone', [alice.key, publicKeyOf(generateSecretKey())]);
    const { hash: laterId } = await alice.send(
      'record.submit',
      {
        hospital: 'river-clinic',
        specialization: 'cardiology',
        ...later.ref,
        patientKey: later.keys[0]!,
        hospitalKeys: { 'river-clinic': later.keys[1]! },
      },
      [later.body],
    );
    expect(await denied(heart.read('record_get', { id: laterId }))).toMatchObject({
      reason: 'CONSENT_REVOKED',
    });
    expect(await heart.list('doctor_reports', { doctor: heart.hex })).toEqual([]);

    // The audit trail lists every read by someone else that was served, with the reader's name.
    const expected = [
      [heart.hex, reportId],
      [heart.hex, docId],
      [skin.hex, reportId],
    ];
    type Ev = { reader: string; target: string; readerName: string | null; purpose: string };
    let trail: Ev[] = [];
    await until(
      'every read recorded',
      async () => {
        trail = await alice.list<Ev>('patient_audit', { patient: alice.hex });
        return trail.length >= expected.length;
      },
      20_000,
    );
    expect(trail.map((e) => [e.reader, e.target]).sort()).toEqual(expected.sort());
    expect(trail.find((e) => e.reader === skin.hex)).toMatchObject({
      readerName: 'Dr. skin',
      purpose: 'COC',
    });

    // Everything alice signed arrived over the WebSocket subscription, in order.
    await until('ws notifications', async () => seenOverWs.length >= 6, 10_000);
    expect(seenOverWs.map((e) => e.kind)).toEqual([
      'patient.register',
      'record.submit',
      'record.attach',
      'consent.grant',
      'consent.revoke',
      'record.submit',
    ]);
    ws.close();
  }, 120_000);
});
