/**
 * The paper's story at the rules level: the admin adds a hospital and its doctors; a patient
 * signs up, submits a report with an earlier receipt attached; the doctor of the matching
 * specialization sees it pending; the patient shares with the hospital; the doctor prescribes;
 * the patient sees the prescription and the doctor's name; the patient revokes; the doctor is
 * denied from then on; the audit trail lists who read what.
 */
import {
  decodeSealed,
  decodeWrappedKey,
  encodeSealed,
  encodeWrappedKey,
  openWithDataKey,
  seal,
  toHex,
  txHash,
  unwrapDataKey,
  utf8,
} from '@ehr/core';
import { describe, expect, it } from 'vitest';
import {
  canRead,
  getEntity,
  type HealthRecord,
  keys,
  listDoctorRecords,
  listDocuments,
  listPatientAudit,
  listPatientConsents,
  listPatientPrescriptions,
  listPatientRecords,
  listPending,
  listPendingForDoctor,
  listRecordPrescriptions,
} from '../src/index.ts';
import {
  account,
  body,
  doctorPayload,
  hospitalPayload,
  patientPayload,
  ref,
  reportPayload,
  TestChain,
  wrapped,
} from './helpers.ts';

/** What a client does: seal for readers; the body and each reader's wrapped key. */
function sealFor(text: string, readers: Uint8Array[]): { body: Uint8Array; keys: Uint8Array[] } {
  const sealed = seal(utf8(text), readers);
  return { body: encodeSealed(sealed), keys: sealed.keys.map(encodeWrappedKey) };
}

function openWith(body: Uint8Array, wrappedKey: Uint8Array, secret: Uint8Array): string {
  const dataKey = unwrapDataKey(decodeWrappedKey(wrappedKey), secret);
  return new TextDecoder().decode(openWithDataKey(decodeSealed(body), dataKey));
}

describe('the three-role story', () => {
  it('runs from hospital registration to revoked consent and the audit trail', async () => {
    const chain = new TestChain();
    const admin = account('admin');
    const heart = account('heart');
    const skin = account('skin');
    const river = account('river');
    const alice = account('alice');
    const cityKey = account('city-general encryption');
    const node = chain.proposer;
    const ok = (r: { receipts: { ok: boolean; code: string | null; kind: string | null }[] }) =>
      expect(r.receipts.map((x) => [x.kind, x.code])).toEqual(
        r.receipts.map((x) => [x.kind, null]),
      );

    // Admin: hospitals and doctors.
    ok(
      await chain.commit([
        chain.tx(
          admin,
          'hospital.register',
          hospitalPayload('city-general', ['cardiology', 'dermatology'], node, cityKey.key),
        ),
        chain.tx(admin, 'hospital.register', hospitalPayload('river-clinic', ['cardiology'])),
        chain.tx(admin, 'doctor.register', doctorPayload(heart, 'city-general', 'cardiology')),
        chain.tx(admin, 'doctor.register', doctorPayload(skin, 'city-general', 'dermatology')),
        chain.tx(admin, 'doctor.register', doctorPayload(river, 'river-clinic', 'cardiology')),
      ]),
    );

    // Patient: sign up, then a report for cardiology at city-general with a receipt attached.
    const signup = patientPayload(alice);
    ok(await chain.commit([chain.tx(alice, 'patient.register', signup.payload)], [signup.profile]));
    // Sealed for real: one data key, wrapped for alice and for city-general's encryption key.
    const report = sealFor('chest pain since Monday', [alice.key, cityKey.key]);
    const submit = chain.tx(alice, 'record.submit', {
      hospital: 'city-general',
      specialization: 'cardiology',
      ...ref(report.body),
      patientKey: report.keys[0]!,
      hospitalKeys: { 'city-general': report.keys[1]! },
    });
    const reportId = toHex(txHash(submit));
    const receipt = body('old receipt', 300);
    const attach = chain.tx(alice, 'record.attach', {
      report: reportId,
      ...ref(receipt),
      patientKey: wrapped('receipt for patient'),
      hospitalKeys: { 'city-general': wrapped('receipt for city-general') },
    });
    const b3 = await chain.commit([submit, attach], [report.body, receipt]);
    ok(b3);
    expect(b3.receipts[0]!.hash).toBe(reportId);
    const documentId = b3.receipts[1]!.hash;
    expect(b3.payloads.referenced).toEqual([
      toHex(ref(report.body).payloadHash),
      toHex(ref(receipt).payloadHash),
    ]);

    // Doctor of the matching specialization sees it pending, with the document.
    const pending = await listPendingForDoctor(chain.state, heart.hex);
    expect(pending.map((r) => [r.id, r.status])).toEqual([[reportId, 'pending']]);
    const seen = await canRead(chain.state, heart.key, reportId, chain.time);
    expect(seen).toMatchObject({
      allowed: true,
      reason: 'PENDING_REPORT',
      keyHolder: 'city-general',
    });
    expect(seen.wrappedKey).toEqual(report.keys[1]);
    // The hospital's node can open what it serves the doctor.
    expect(openWith(report.body, seen.wrappedKey!, cityKey.secret)).toBe('chest pain since Monday');
    expect(await canRead(chain.state, heart.key, documentId, chain.time)).toMatchObject({
      allowed: true,
      reason: 'PENDING_REPORT',
    });
    const docs = await listDocuments(chain.state, reportId);
    expect(docs.map((d) => d.id)).toEqual([documentId]);
    // Another specialization at the same hospital, or another hospital: not without consent.
    expect(await canRead(chain.state, skin.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_MISSING',
    });
    expect(await canRead(chain.state, river.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_MISSING',
    });
    // The admin manages hospitals but never reads health data.
    expect(await canRead(chain.state, admin.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'UNAUTHORIZED',
    });

    // The node that served the doctor's read records it.
    ok(
      await chain.commit([
        chain.tx(node, 'access.record', {
          reader: heart.key,
          target: reportId,
          purpose: 'diagnosis',
          readAt: chain.time + 10,
        }),
      ]),
    );

    // Patient shares everything (and the profile) with city-general.
    ok(
      await chain.commit([
        chain.tx(alice, 'consent.grant', {
          hospital: 'city-general',
          scope: 'all',
          keys: { [alice.hex]: wrapped('profile for city-general') },
        }),
      ]),
    );
    expect(await canRead(chain.state, skin.key, reportId, chain.time)).toMatchObject({
      allowed: true,
      reason: 'CONSENT',
    });
    expect(await canRead(chain.state, heart.key, alice.hex, chain.time)).toMatchObject({
      allowed: true,
      reason: 'CONSENT',
      wrappedKey: wrapped('profile for city-general'),
    });

    // Doctor prescribes: pending -> prescribed, doctor recorded.
    const rx = sealFor('aspirin 75mg daily, 30 days', [alice.key, cityKey.key]);
    const b6 = await chain.commit(
      [
        chain.tx(heart, 'prescription.write', {
          record: reportId,
          ...ref(rx.body),
          patientKey: rx.keys[0]!,
          hospitalKey: rx.keys[1]!,
        }),
      ],
      [rx.body],
    );
    ok(b6);
    const rxId = b6.receipts[0]!.hash;
    expect((await getEntity<HealthRecord>(chain.state, keys.record(reportId)))!.status).toBe(
      'prescribed',
    );
    expect(await listPending(chain.state, 'city-general', 'cardiology')).toEqual([]);
    expect((await listDoctorRecords(chain.state, heart.hex)).map((r) => r.id)).toEqual([reportId]);
    expect((await listRecordPrescriptions(chain.state, reportId)).map((p) => p.id)).toEqual([rxId]);

    // Patient sees the prescription and who wrote it.
    const mine = await listPatientPrescriptions(chain.state, alice.hex);
    expect(mine.map((p) => [p.id, p.record, p.doctorName, p.hospital])).toEqual([
      [rxId, reportId, 'Dr. heart', 'city-general'],
    ]);
    const own = await canRead(chain.state, alice.key, rxId, chain.time);
    expect(own).toMatchObject({ allowed: true, reason: 'PATIENT_OWN', wrappedKey: rx.keys[0] });
    expect(
      openWith(chain.bodies.get(own.target!.payloadHash)!, own.wrappedKey!, alice.secret),
    ).toBe('aspirin 75mg daily, 30 days');
    // No longer pending, but the consent keeps the report readable for the hospital's doctors.
    expect(await canRead(chain.state, heart.key, reportId, chain.time)).toMatchObject({
      allowed: true,
      reason: 'CONSENT',
    });

    // Patient revokes.
    ok(await chain.commit([chain.tx(alice, 'consent.revoke', { hospital: 'city-general' })]));
    expect(await canRead(chain.state, heart.key, reportId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_REVOKED',
    });
    expect(await canRead(chain.state, skin.key, documentId, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_REVOKED',
    });
    expect(await canRead(chain.state, heart.key, alice.hex, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_REVOKED',
    });
    // The prescriber keeps their own prescription.
    expect(await canRead(chain.state, heart.key, rxId, chain.time)).toMatchObject({
      allowed: true,
      reason: 'PRESCRIBER',
    });

    // New reports: to another hospital, and to city-general for another specialization.
    const later = reportPayload('palpitations', 'river-clinic', 'cardiology');
    const skinReport = reportPayload('rash', 'city-general', 'dermatology');
    const b8 = await chain.commit(
      [
        chain.tx(alice, 'record.submit', later.payload),
        chain.tx(alice, 'record.submit', skinReport.payload),
      ],
      [later.body, skinReport.body],
    );
    ok(b8);
    const [laterId, skinId] = b8.receipts.map((r) => r.hash);
    expect(await canRead(chain.state, heart.key, laterId!, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_REVOKED',
    });
    expect(await canRead(chain.state, heart.key, skinId!, chain.time)).toMatchObject({
      allowed: false,
      reason: 'CONSENT_REVOKED',
    });
    expect(await canRead(chain.state, river.key, laterId!, chain.time)).toMatchObject({
      allowed: true,
      reason: 'PENDING_REPORT',
    });
    expect(await canRead(chain.state, skin.key, skinId!, chain.time)).toMatchObject({
      allowed: true,
      reason: 'PENDING_REPORT',
    });
    // And the rules agree: no prescription without access.
    const denied = await chain.one(
      chain.tx(heart, 'prescription.write', {
        record: laterId!,
        ...ref(body('nope')),
        patientKey: wrapped('a'),
        hospitalKey: wrapped('b'),
      }),
    );
    expect(denied).toMatchObject({ ok: false, code: 'CONSENT_REVOKED' });

    expect((await listPendingForDoctor(chain.state, heart.hex)).map((r) => r.id)).toEqual([]);
    expect((await listPendingForDoctor(chain.state, skin.hex)).map((r) => r.id)).toEqual([skinId]);
    expect(
      (await listPatientConsents(chain.state, alice.hex)).map((c) => [
        c.hospital,
        c.revokedAt !== null,
      ]),
    ).toEqual([['city-general', true]]);

    // The patient lists who accessed what.
    ok(
      await chain.commit([
        chain.tx(node, 'access.record', {
          reader: river.key,
          target: laterId!,
          purpose: 'triage',
          readAt: chain.time + 5,
        }),
      ]),
    );
    const audit = await listPatientAudit(chain.state, alice.hex);
    expect(audit.map((e) => [e.reader, e.target, e.purpose, e.node])).toEqual([
      [heart.hex, reportId, 'diagnosis', node.hex],
      [river.hex, laterId, 'triage', node.hex],
    ]);
    expect(audit[0]!.recordedAt).toBeGreaterThanOrEqual(audit[0]!.readAt - 10);

    // Every record is listed for the patient, oldest first.
    const records = await listPatientRecords(chain.state, alice.hex);
    expect(records.map((r) => r.id)).toEqual([reportId, documentId, laterId, skinId]);
  });
});
