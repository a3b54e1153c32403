/**
 * FHIR R4 round trip against a real daemon, through the real `ehr` binary: a patient's full
 * story (profile, text and file reports, a document attached byte for byte, a standalone one, a
 * doctor's read and prescription, a share, the audit trail) exported, checked against the
 * official R4 schema, imported into a fresh patient, exported again: the same clinical content.
 * Then re-importing skips every duplicate, bad files are refused with nothing submitted, and the
 * doctor exports one report with its prescription.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EhrClient } from '@ehr/api';
import { generateKeyPair, loadKeyFile, saveKeyFile, toHex } from '@ehr/core';
import type { fhir } from '@ehr/fhir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ehr } from '../packages/cli/test/ehr.ts';
import { foreign, pdf } from '../packages/fhir/test/examples.ts';
import { fhirErrors } from '../packages/fhir/test/fhir-schema.ts';
import { TestCluster, until } from './harness/cluster.ts';

type Bundle = fhir.Bundle;
type DocumentReference = fhir.DocumentReference;
type MedicationRequest = fhir.MedicationRequest;

let cluster: TestCluster;
let rpc = '';
const f = (name: string) => join(cluster.dir, name);
const keys: Record<string, Uint8Array> = {};

function person(name: string): Uint8Array {
  const pair = generateKeyPair();
  saveKeyFile(f(`${name}.key.json`), pair, { dev: true, label: name });
  keys[name] = pair.secretKey;
  return pair.secretKey;
}

/** The real binary as `who`; `--json` output parsed. */
async function cli(args: string[], who?: string) {
  const r = await ehr([...args, '--rpc', rpc, ...(who ? ['--key', f(`${who}.key.json`)] : [])], {
    cwd: cluster.dir,
    timeoutMs: 120_000,
  });
  return { ...r, json: () => JSON.parse(r.stdout) as Record<string, unknown> };
}

const docs = (b: Bundle) =>
  (b.entry ?? [])
    .map((e) => e.resource)
    .filter((r) => r?.resourceType === 'DocumentReference') as DocumentReference[];
const rxs = (b: Bundle) =>
  (b.entry ?? [])
    .map((e) => e.resource)
    .filter((r) => r?.resourceType === 'MedicationRequest') as MedicationRequest[];
const fullUrlOf = (b: Bundle, r: unknown) => b.entry?.find((e) => e.resource === r)?.fullUrl;

/**
 * What a bundle says clinically, independent of ids and dates: every attachment (media type,
 * title, bytes) with the attachment of the report it appends to, and every prescription text.
 * A prescription imported as a document reads as its text.
 */
function clinical(b: Bundle) {
  const all = docs(b);
  const key = (d: DocumentReference) => {
    const a = d.content[0]!.attachment;
    return `${a.contentType}|${a.title ?? ''}|${a.data}`;
  };
  const items = all.map((d) => {
    const target = d.relatesTo?.[0]?.target.reference;
    const parent = all.find((x) => fullUrlOf(b, x) === target);
    return `${key(d)} <- ${parent ? key(parent) : '-'}`;
  });
  for (const m of rxs(b)) {
    const text = m.note?.[0]?.text ?? '';
    items.push(`text/plain; charset=utf-8||${Buffer.from(text).toString('base64')} <- -`);
  }
  return items.sort();
}

const scan = randomBytes(1_500_000); // a multi-megabyte-class scan, attached as a document
const xray = randomBytes(120_000); // a file report (reports may be 256 KiB sealed)
const REPORT = 'Chest pain when climbing stairs since Monday.\nNo fever. Grandfather: angina.';
const RX = 'Aspirin 75 mg daily for 30 days\nStress test next week — bring this note.';
const ids: Record<string, string> = {};

beforeAll(async () => {
  cluster = await TestCluster.create({ validators: 1 });
  cluster.startAll();
  await until('a leader', () => cluster.leader(), 60_000);
  rpc = cluster.node('node1').gatewayUrl;
  const admin = new EhrClient(rpc, loadKeyFile(cluster.plan.adminKey).secretKey);
  const city = person('city');
  person('heart');
  person('alice');
  person('bob');
  person('carol');
  await admin.admin.addHospital({
    id: 'city-general',
    name: 'City General',
    address: '1 Harbour Road',
    specializations: ['cardiology', 'radiology'],
    contact: 'desk@city.example',
    encryptionKey: toHex(loadKeyFile(f('city.key.json')).publicKey),
  });
  await admin.admin.addDoctor({
    key: toHex(loadKeyFile(f('heart.key.json')).publicKey),
    hospital: 'city-general',
    name: 'Dr. Amara Heart',
    specialization: 'cardiology',
    qualification: 'MD',
    experience: 12,
  });
  // Alice's story, through the typed client.
  const alice = new EhrClient(rpc, keys['alice']!);
  await alice.patient.register({
    name: 'Alice Doe',
    born: '1980-04-01',
    allergies: ['penicillin'],
  });
  ids['report'] = (
    await alice.patient.submitReport({
      content: { type: 'text', text: REPORT },
      hospital: 'city-general',
      specialization: 'cardiology',
    })
  ).hash;
  ids['xray'] = (
    await alice.patient.submitReport({
      content: { type: 'file', name: 'chest-xray.png', mediaType: 'image/png', data: xray },
      hospital: 'city-general',
      specialization: 'radiology',
    })
  ).hash;
  ids['scan'] = (
    await alice.patient.attachDocument({
      content: { type: 'file', name: 'ecg-scan.pdf', mediaType: 'application/pdf', data: scan },
      report: ids['report'],
    })
  ).hash;
  ids['card'] = (
    await alice.patient.attachDocument({
      content: { type: 'text', text: 'Vaccination card: tetanus 2019.' },
    })
  ).hash;
  const heart = new EhrClient(rpc, keys['heart']!, { hospitalSecretKey: city });
  await heart.doctor.readReport(ids['report'], 'TREAT');
  ids['rx'] = (
    await heart.doctor.prescribe({ record: ids['report'], content: { type: 'text', text: RX } })
  ).hash;
  await alice.patient.share({ hospital: 'city-general', expiresAt: Date.now() + 90 * 86_400_000 });
  await until(
    "the doctor's read in the audit trail",
    async () => (await alice.patient.audit()).some((e) => e.reader !== alice.key),
    30_000,
  );
}, 240_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('FHIR R4 round trip through the ehr binary', { timeout: 240_000 }, () => {
  let first: Bundle;

  it('ehr patient export --fhir writes a valid R4 Bundle of the whole story', async () => {
    const r = await cli(['patient', 'export', '--fhir', f('alice.json'), '--json'], 'alice');
    expect(r.code, r.stderr).toBe(0);
    const out = r.json() as { resources: Record<string, number>; warnings: string[] };
    expect(out.warnings).toEqual([]);
    expect(out.resources).toMatchObject({
      Patient: 1,
      Organization: 1,
      Practitioner: 1,
      PractitionerRole: 1,
      DocumentReference: 4,
      MedicationRequest: 1,
      Consent: 1,
    });
    expect(out.resources['AuditEvent']).toBeGreaterThanOrEqual(1);
    first = JSON.parse(readFileSync(f('alice.json'), 'utf8')) as Bundle;
    expect(fhirErrors(first)).toEqual([]);
    const scanDoc = docs(first).find((d) => d.id === ids['scan'])!;
    expect(Buffer.from(scanDoc.content[0]!.attachment.data!, 'base64').equals(scan)).toBe(true);
    expect(scanDoc.content[0]!.attachment.size).toBe(scan.length);
    expect(rxs(first)[0]?.note?.[0]?.text).toBe(RX);
    const audit = (first.entry ?? []).find(
      (e) =>
        e.resource?.resourceType === 'AuditEvent' &&
        JSON.stringify(e.resource).includes('"code":"TREAT"'),
    );
    expect(audit, 'the doctor read is in the export, its purpose coded').toBeDefined();
    // The file exists now: export refuses to overwrite it without --force.
    const again = await cli(['patient', 'export', '--fhir', f('alice.json')], 'alice');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/exists: name another file, or add --force/);
  });

  it('ehr patient import --fhir submits it as sealed records of a fresh patient; exported again, the clinical content is the same', async () => {
    const bob = new EhrClient(rpc, keys['bob']!);
    await bob.patient.register({ name: 'Bob Roe' });
    const r = await cli(['patient', 'import', '--fhir', f('alice.json'), '--json'], 'bob');
    expect(r.code, r.stderr).toBe(0);
    const out = r.json() as {
      imported: { resource: string; as: string; report?: string; hospital?: string }[];
      skipped: { resource: string; reason: string }[];
    };
    expect(out.imported.map((x) => x.as).sort()).toEqual([
      'document',
      'document',
      'document',
      'report',
      'report',
    ]);
    expect(
      out.imported.filter((x) => x.as === 'report').every((x) => x.hospital === 'city-general'),
    ).toBe(true);
    expect(out.imported.filter((x) => x.report)).toHaveLength(1);
    const skippedTypes = out.skipped.map((x) => x.resource.split('/')[0]);
    for (const t of [
      'Patient',
      'Organization',
      'Practitioner',
      'PractitionerRole',
      'Consent',
      'AuditEvent',
    ]) {
      expect(skippedTypes).toContain(t);
    }
    const reports = await bob.patient.reports();
    expect(reports.map((x) => x.specialization).sort()).toEqual(['cardiology', 'radiology']);
    expect(reports.find((x) => x.specialization === 'cardiology')?.documents).toHaveLength(1);

    const e2 = await cli(['patient', 'export', '--fhir', f('bob.json'), '--json'], 'bob');
    expect(e2.code, e2.stderr).toBe(0);
    const second = JSON.parse(readFileSync(f('bob.json'), 'utf8')) as Bundle;
    expect(fhirErrors(second)).toEqual([]);
    expect(clinical(second)).toEqual(clinical(first));
    const scanAgain = docs(second).find((d) => d.content[0]!.attachment.title === 'ecg-scan.pdf')!;
    expect(Buffer.from(scanAgain.content[0]!.attachment.data!, 'base64').equals(scan)).toBe(true);
    expect(scanAgain.content[0]!.attachment.hash).toBe(
      docs(first).find((d) => d.id === ids['scan'])!.content[0]!.attachment.hash,
    );
  });

  it('importing the same bundle again skips every record as a duplicate of what the patient holds', async () => {
    const bob = new EhrClient(rpc, keys['bob']!);
    const before = (await bob.patient.documents()).length + (await bob.patient.reports()).length;
    const r = await cli(['patient', 'import', '--fhir', f('alice.json'), '--json'], 'bob');
    expect(r.code, r.stderr).toBe(0);
    const out = r.json() as { imported: unknown[]; skipped: { reason: string }[] };
    expect(out.imported).toEqual([]);
    expect(
      out.skipped.filter((x) => x.reason.startsWith('duplicate: you already hold it')),
    ).toHaveLength(5);
    const after = (await bob.patient.documents()).length + (await bob.patient.reports()).length;
    expect(after).toBe(before);
    // Human output lists what was skipped and why.
    const human = await cli(['patient', 'import', '--fhir', f('alice.json')], 'bob');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/imported 0, skipped \d+/);
    expect(human.stdout).toMatch(/duplicate: you already hold it/);
  });

  it('bad files are refused with a clear message, exit code 2, and nothing submitted', async () => {
    const bob = new EhrClient(rpc, keys['bob']!);
    const count = async () =>
      (await bob.patient.documents()).length + (await bob.patient.reports()).length;
    const before = await count();
    const big = Buffer.alloc(50 * 1024 * 1024, 7);
    const cases: [string, string, RegExp][] = [
      ['garbage.json', 'this is not JSON {', /not JSON/],
      [
        'patient.json',
        JSON.stringify({ resourceType: 'Patient', id: 'x' }),
        /expected a FHIR Bundle, got a Patient/,
      ],
      [
        'wrong-type.json',
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'collection',
          entry: [
            {
              resource: {
                resourceType: 'Observation',
                status: 'final',
                code: { text: 'new and fine' },
                valueString: 'ok',
              },
            },
            {
              resource: { resourceType: 'DocumentReference', id: 'd', content: { attachment: {} } },
            },
          ],
        }),
        /DocumentReference\/d\): content is object, expected a list/,
      ],
      [
        'fifty-mb.json',
        JSON.stringify({
          resourceType: 'Bundle',
          type: 'collection',
          entry: [
            {
              resource: {
                resourceType: 'Observation',
                status: 'final',
                code: { text: 'also new' },
                valueString: 'ok',
              },
            },
            {
              resource: {
                resourceType: 'DocumentReference',
                id: 'mri',
                content: [
                  {
                    attachment: { contentType: 'application/dicom', data: big.toString('base64') },
                  },
                ],
              },
            },
          ],
        }),
        /attachment is 50\.0 MB; this chain takes documents up to/,
      ],
    ];
    for (const [name, text, message] of cases) {
      writeFileSync(f(name), text);
      const r = await cli(['patient', 'import', '--fhir', f(name), '--json'], 'bob');
      expect(r.code, `${name}: ${r.stderr}`).toBe(2);
      expect(r.stdout).toBe('');
      const err = JSON.parse(r.stderr) as { error: { code: string; message: string } };
      expect(err.error.code).toBe('FHIR_INVALID');
      expect(err.error.message).toMatch(message);
    }
    const missing = await cli(['patient', 'import', '--fhir', f('no-such.json')], 'bob');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*no-such\.json/);
    expect(await count()).toBe(before);
  });

  it("another system's bundle: observations and reports go to the hospital given, files byte for byte, the rest listed as skipped", async () => {
    const carol = new EhrClient(rpc, keys['carol']!);
    await carol.patient.register({ name: 'Carol' });
    writeFileSync(f('foreign.json'), JSON.stringify(foreign));
    const half = await cli(
      ['patient', 'import', '--fhir', f('foreign.json'), '--hospital', 'city-general'],
      'carol',
    );
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/--hospital and --specialization together/);
    const unknown = await cli(
      [
        'patient',
        'import',
        '--fhir',
        f('foreign.json'),
        '--hospital',
        'nowhere',
        '--specialization',
        'cardiology',
      ],
      'carol',
    );
    expect(unknown.code).toBe(6);
    expect(unknown.stderr).toMatch(/no active hospital "nowhere"/);
    const r = await cli(
      [
        'patient',
        'import',
        '--fhir',
        f('foreign.json'),
        '--hospital',
        'city-general',
        '--specialization',
        'cardiology',
      ],
      'carol',
    );
    expect(r.code, r.stderr).toBe(0);
    // Progress on stderr, one line per record (not a terminal here), then the table on stdout.
    expect(r.stderr.trim().split('\n')).toEqual(
      Array.from({ length: 7 }, (_, i) => `submitted ${i + 1}/7`),
    );
    expect(r.stdout).toMatch(/^imported 7, skipped 4/);
    expect(r.stdout).toMatch(
      /ImagingStudy\/example\s+not understood: ImagingStudy resources are not imported/,
    );
    expect(r.stdout).toMatch(
      /DocumentReference\/example\[0\]\s+content\[0\]\.attachment has no inline data/,
    );
    const reports = await carol.patient.reports();
    expect(reports).toHaveLength(4);
    expect(
      reports.every((x) => x.hospital === 'city-general' && x.specialization === 'cardiology'),
    ).toBe(true);
    const withForm = reports.find((x) => x.documents.length === 1)!;
    const opened = await carol.patient.readRecord(withForm.documents[0]!.id);
    expect(
      opened.content.type === 'file' && Buffer.from(opened.content.data).equals(Buffer.from(pdf)),
    ).toBe(true);
    const texts = await Promise.all(
      reports.map(async (x) => (await carol.patient.readRecord(x.id)).content),
    );
    expect(texts).toContainEqual({
      type: 'text',
      text: 'Glucose [Moles/volume] in Blood: 6.3 mmol/l\ninterpretation: High\ndate: 2013-04-02T09:30:10+01:00',
    });
  });

  it('ehr doctor export --fhir: one report with its prescription, valid R4', async () => {
    const r = await cli(
      [
        'doctor',
        'export',
        '--report',
        ids['report']!,
        '--prescription',
        ids['rx']!,
        '--hospital-key',
        f('city.key.json'),
        '--fhir',
        f('referral.json'),
        '--json',
      ],
      'heart',
    );
    expect(r.code, r.stderr).toBe(0);
    expect((r.json() as { resources: Record<string, number> }).resources).toEqual({
      Patient: 1,
      Organization: 1,
      Practitioner: 1,
      PractitionerRole: 1,
      DocumentReference: 1,
      MedicationRequest: 1,
    });
    const b = JSON.parse(readFileSync(f('referral.json'), 'utf8')) as Bundle;
    expect(fhirErrors(b)).toEqual([]);
    expect(Buffer.from(docs(b)[0]!.content[0]!.attachment.data!, 'base64').toString('utf8')).toBe(
      REPORT,
    );
    expect(rxs(b)[0]?.dosageInstruction?.[0]?.text).toBe(RX);
    expect(rxs(b)[0]?.supportingInformation?.[0]?.reference).toBe(fullUrlOf(b, docs(b)[0]));
    // A prescription of another report is refused.
    const wrong = await cli(
      [
        'doctor',
        'export',
        '--report',
        ids['xray']!,
        '--prescription',
        ids['rx']!,
        '--hospital-key',
        f('city.key.json'),
        '--fhir',
        f('wrong.json'),
      ],
      'heart',
    );
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/is for report/);
  });

  it('help shows examples for every FHIR command', async () => {
    for (const args of [
      ['patient', 'export'],
      ['patient', 'import'],
      ['doctor', 'export'],
    ]) {
      const r = await ehr([...args, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        new RegExp(`Example:\\n  ehr ${args.join(' ')} [^\\n]*(\\\\\\n[^\\n]*)?--fhir`),
      );
    }
  });
});
