/** The export mapping: every resource of a story, checked field by field and by the R4 schema. */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type {
  AuditEvent,
  Bundle,
  Consent,
  DocumentReference,
  MedicationRequest,
  Patient,
  PractitionerRole,
} from '@medplum/fhirtypes';
import { beforeAll, describe, expect, it } from 'vitest';
import { contentHash } from '../src/attachment.ts';
import { fromBase64, toBase64 } from '../src/base64.ts';
import { BundleBuilder } from '../src/export-map.ts';
import { snomedSpecialty } from '../src/specialty.ts';
import { SYSTEM } from '../src/uris.ts';
import { fhirErrors, r4ResourceTypes } from './fhir-schema.ts';
import * as s from './story.ts';

// Compiling the whole R4 schema takes 15-30 s on a loaded two-core machine: once, before the tests.
beforeAll(() => {
  fhirErrors({ resourceType: 'Basic', code: { text: 'warm-up' } });
}, 180_000);

describe('the FHIR R4 schema (third party) as used here', () => {
  it('accepts a valid resource and refuses wrong types, unknown fields and unknown codes', () => {
    expect(fhirErrors({ resourceType: 'Patient', name: [{ family: 'Chalmers' }] })).toEqual([]);
    expect(fhirErrors({ resourceType: 'Patient', name: 'Chalmers' })).not.toEqual([]);
    expect(fhirErrors({ resourceType: 'Patient', gender: 'x' })).not.toEqual([]);
    expect(fhirErrors({ resourceType: 'Patient', nickname: 'x' })).not.toEqual([]);
    expect(
      fhirErrors({
        resourceType: 'Bundle',
        type: 'collection',
        entry: [{ resource: { resourceType: 'DocumentReference', status: 'current' } }],
      }),
    ).not.toEqual([]);
    const rx = {
      resourceType: 'MedicationRequest',
      status: 'active',
      intent: 'order',
      subject: { display: 'x' },
      medicationCodeableConcept: { text: 'aspirin' },
    };
    expect(fhirErrors(rx)).toEqual([]);
    const { intent: _i, ...noIntent } = rx;
    expect(fhirErrors(noIntent)).not.toEqual([]);
    expect(fhirErrors({ ...rx, authoredOn: 'yesterday' })).not.toEqual([]);
    // Medplum's own resource types are not R4.
    expect(fhirErrors({ resourceType: 'Bot', name: 'x' })).not.toEqual([]);
    expect(r4ResourceTypes().size).toBeGreaterThanOrEqual(140);
    expect(r4ResourceTypes().has('DocumentReference')).toBe(true);
  });
});

function storyBundle(now = s.T0 + 86_400_000): Bundle {
  const b = new BundleBuilder();
  b.patient(s.alice, {
    type: 'json',
    value: { name: 'Alice Doe', born: '1980-04-01', allergies: ['penicillin'] },
  });
  b.organization(s.city);
  b.doctor(s.heart);
  for (const r of [s.report, s.ecg, s.loose]) b.record(r, s.contents[r.id]!);
  b.prescription(s.rx, { type: 'text', text: s.rxText });
  b.consent(s.consent, now);
  b.consent({ ...s.consent, hospital: 'river', revokedAt: s.T0 + 5000, scope: [s.report.id] }, now);
  b.audit(s.audit);
  return b.bundle(now, 'test');
}

const byType = <T>(b: Bundle, type: string): T[] =>
  (b.entry ?? []).map((e) => e.resource).filter((r) => r?.resourceType === type) as T[];

describe('export mapping', () => {
  const bundle = storyBundle();

  it('is a valid FHIR R4 Bundle of type collection (official JSON schema)', () => {
    expect(bundle.type).toBe('collection');
    expect(fhirErrors(bundle)).toEqual([]);
    // Each resource on its own too.
    for (const e of bundle.entry ?? [])
      expect(fhirErrors(e.resource), e.resource?.resourceType).toEqual([]);
  });

  it('every reference to a bundle entry resolves to its fullUrl, and every resource carries an on-chain identifier', () => {
    const urls = new Set((bundle.entry ?? []).map((e) => e.fullUrl));
    expect(urls.size).toBe(bundle.entry?.length);
    const refs: string[] = [];
    JSON.stringify(bundle, (k, v) => {
      if (k === 'reference' && typeof v === 'string') refs.push(v);
      return v;
    });
    expect(refs.length).toBeGreaterThan(10);
    for (const r of refs) expect(urls.has(r), r).toBe(true);
    for (const e of bundle.entry ?? []) {
      const text = JSON.stringify(e.resource);
      expect(text.includes('urn:ehr-ledger:'), e.resource?.resourceType).toBe(true);
    }
  });

  it('Patient carries the name, birth date and the whole profile', () => {
    const [p] = byType<Patient>(bundle, 'Patient');
    expect(p?.identifier).toEqual([{ system: SYSTEM.account, value: s.alice }]);
    expect(p?.name?.[0]?.text).toBe('Alice Doe');
    expect(p?.birthDate).toBe('1980-04-01');
    expect(JSON.parse(p?.extension?.[0]?.valueString ?? '{}').allergies).toEqual(['penicillin']);
  });

  it('a doctor is a Practitioner and a PractitionerRole with a SNOMED CT specialty; an unknown slug stays text', () => {
    const [role] = byType<PractitionerRole>(bundle, 'PractitionerRole');
    expect(role?.specialty?.[0]?.coding?.[0]).toEqual({
      system: 'http://snomed.info/sct',
      code: '394579002',
      display: 'Cardiology',
    });
    expect(snomedSpecialty('wound-care')).toBeUndefined();
    const b = new BundleBuilder();
    const other = b.doctor({ ...s.heart, specialization: 'wound-care' }).role;
    expect(other.specialty?.[0]).toEqual({
      coding: [{ system: SYSTEM.specialization, code: 'wound-care' }],
      text: 'wound-care',
    });
  });

  it('reports and documents are DocumentReferences with the bytes, their size and SHA-1 (base64) as FHIR asks', () => {
    const docs = byType<DocumentReference>(bundle, 'DocumentReference');
    expect(docs).toHaveLength(3);
    const ecg = docs.find((d) => d.id === s.ecg.id)!;
    const a = ecg.content[0]!.attachment;
    expect(a.contentType).toBe('application/pdf');
    expect(a.title).toBe('ecg.pdf');
    expect(a.size).toBe(s.ecgBytes.length);
    expect(Buffer.from(a.data!, 'base64').equals(Buffer.from(s.ecgBytes))).toBe(true);
    expect(a.hash).toBe(createHash('sha1').update(s.ecgBytes).digest('base64'));
    expect(ecg.relatesTo?.[0]?.code).toBe('appends');
    const report = docs.find((d) => d.id === s.report.id)!;
    expect(ecg.relatesTo?.[0]?.target.reference).toBe(
      bundle.entry?.find((e) => e.resource === report)?.fullUrl,
    );
    expect(report.custodian?.display).toBe('City General');
    expect(report.subject?.display).toBe('Alice Doe');
    expect(report.date).toBe(new Date(s.T0).toISOString());
    expect(report.identifier).toContainEqual({ system: SYSTEM.tx, value: s.report.id });
    expect(report.identifier).toContainEqual({
      system: SYSTEM.payload,
      value: s.report.payloadHash,
    });
    expect(Buffer.from(report.content[0]!.attachment.data!, 'base64').toString('utf8')).toBe(
      (s.contents[s.report.id] as { text: string }).text,
    );
    expect(report.context?.practiceSetting?.coding?.[0]?.code).toBe('394579002');
    const loose = docs.find((d) => d.id === s.loose.id)!;
    expect(loose.custodian).toBeUndefined();
    expect(loose.relatesTo).toBeUndefined();
  });

  it('a prescription is a MedicationRequest by the doctor, for the report, with the text verbatim', () => {
    const [m] = byType<MedicationRequest>(bundle, 'MedicationRequest');
    expect(m?.note?.[0]?.text).toBe(s.rxText);
    expect(m?.dosageInstruction?.[0]?.text).toBe(s.rxText);
    expect(m?.medicationCodeableConcept?.text).toBe('Aspirin 75 mg daily for 30 days');
    expect(m?.authoredOn).toBe(new Date(s.rx.writtenAt).toISOString());
    expect(m?.requester?.display).toBe(s.heart.name);
    expect(m?.supportingInformation?.[0]?.reference).toBe(
      bundle.entry?.find((e) => e.resource?.id === s.report.id)?.fullUrl,
    );
  });

  it('a file prescription travels as a DocumentReference the request points to', () => {
    const b = new BundleBuilder();
    b.prescription(s.rx, {
      type: 'file',
      name: 'rx.pdf',
      mediaType: 'application/pdf',
      data: new Uint8Array([1, 2, 3]),
    });
    const out = b.bundle(s.T0, 'x');
    expect(fhirErrors(out)).toEqual([]);
    const [m] = byType<MedicationRequest>(out, 'MedicationRequest');
    expect(m?.supportingInformation).toHaveLength(2);
    expect(
      byType<DocumentReference>(out, 'DocumentReference')[0]?.content[0]?.attachment.size,
    ).toBe(3);
  });

  it('consents: active while in force, inactive once revoked or expired, with the period and the hospital as actor', () => {
    const [c1, c2] = byType<Consent>(bundle, 'Consent');
    expect(c1?.status).toBe('active');
    expect(c1?.provision?.period).toEqual({
      start: new Date(s.consent.grantedAt).toISOString(),
      end: new Date(s.consent.expiresAt!).toISOString(),
    });
    expect(c1?.provision?.actor?.[0]?.reference.reference).toMatch(/^urn:uuid:/);
    expect(c2?.status).toBe('inactive');
    expect(c2?.provision?.actor?.[0]?.reference.identifier).toEqual({
      system: SYSTEM.hospital,
      value: 'river',
    });
    expect(c2?.provision?.data?.[0]?.meaning).toBe('instance');
    const expired = new BundleBuilder().consent(s.consent, s.consent.expiresAt! + 1);
    expect(expired.status).toBe('inactive');
  });

  it('an audit entry is an AuditEvent: who, what, when, why, and the serving node', () => {
    const [a] = byType<AuditEvent>(bundle, 'AuditEvent');
    expect(a?.agent[0]?.who?.display).toBe(s.heart.name);
    expect(a?.agent[0]?.requestor).toBe(true);
    expect(a?.purposeOfEvent?.[0]?.coding?.[0]).toMatchObject({
      code: 'TREAT',
      display: 'treatment',
    });
    expect(a?.period?.start).toBe(new Date(s.audit.readAt).toISOString());
    expect(a?.source.observer.identifier).toEqual({ system: SYSTEM.node, value: s.audit.node });
    expect(a?.entity?.[0]?.what?.reference).toBe(
      bundle.entry?.find((e) => e.resource?.id === s.report.id)?.fullUrl,
    );
    expect(a?.entity?.[1]?.what?.identifier).toEqual({ system: SYSTEM.tx, value: s.audit.id });
  });

  it('missing optional data leaves fields out instead of writing empty ones (still valid)', () => {
    const b = new BundleBuilder();
    b.patient(s.alice, null);
    b.organization({ ...s.city, address: '', contact: '' });
    b.doctor({ ...s.heart, qualification: '', contact: '' });
    b.patient(s.heartKey, { type: 'json', value: { name: '   ', born: 'last spring' } });
    const out = b.bundle(s.T0, 'y');
    expect(fhirErrors(out)).toEqual([]);
    expect(JSON.stringify(out)).not.toMatch(
      /"(address|telecom|qualification|name|birthDate)":\s*(\[\]|"")/,
    );
  });
});

describe('base64', () => {
  it('agrees with Buffer for every length and refuses what is not base64', () => {
    for (let n = 0; n < 70; n++) {
      const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 255);
      const enc = toBase64(b);
      expect(enc).toBe(Buffer.from(b).toString('base64'));
      expect(Buffer.from(fromBase64(enc)!).equals(Buffer.from(b))).toBe(true);
    }
    expect(fromBase64('QUJD\nREVG')).toEqual(new TextEncoder().encode('ABCDEF'));
    for (const bad of ['QUJ', 'QU=D', '****', 'QUJDé===', '=QUJ'])
      expect(fromBase64(bad), bad).toBeNull();
  });
});

describe('contentHash (duplicate detection)', () => {
  it('is the same for the same kind and bytes whatever the file name, and differs otherwise', () => {
    const data = new TextEncoder().encode('ECG 2025-03-02');
    const file = (name: string, mediaType = 'application/pdf') => ({
      type: 'file' as const,
      name,
      mediaType,
      data,
    });
    expect(contentHash(file('a.pdf'))).toBe(contentHash(file('b.pdf', 'image/png')));
    expect(contentHash({ type: 'text', text: 'ECG 2025-03-02' })).not.toBe(
      contentHash(file('a.pdf')),
    );
    expect(contentHash({ type: 'text', text: 'ECG 2025-03-02' })).not.toBe(
      contentHash({ type: 'text', text: 'ECG 2025-03-02 ' }),
    );
    expect(contentHash({ type: 'text', text: 'x' })).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('browser-safe', () => {
  it('no source file of @ehr/fhir imports a node: module', () => {
    const dir = join(import.meta.dirname, '../src');
    for (const f of readdirSync(dir)) {
      expect(readFileSync(join(dir, f), 'utf8'), f).not.toMatch(
        /from ['"]node:|require\(['"]node:|import\(['"]node:/,
      );
    }
  });
});
