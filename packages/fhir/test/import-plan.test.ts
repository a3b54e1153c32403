/**
 * Reading foreign bundles: shaped like the public FHIR R4 examples (extensions, contained
 * resources, narrative, missing optional fields, url-only attachments), hostile ones (deep
 * nesting, huge strings, wrong types, damaged attachments), and our own export read back.
 */
import { EhrError } from '@ehr/core';
import { describe, expect, it } from 'vitest';
import { BundleBuilder } from '../src/export-map.ts';
import { type ImportLimits, MAX_DEPTH, planImport } from '../src/import-plan.ts';
import { b64, foreign, pdf, sha1 } from './examples.ts';
import * as s from './story.ts';

const LIMITS: ImportLimits = { reportBytes: 256 * 1024, documentBytes: 8 * 1024 * 1024 };
function problemsOf(input: unknown, limits = LIMITS): { message: string; problems: unknown[] } {
  try {
    planImport(input, limits);
  } catch (err) {
    expect(err).toBeInstanceOf(EhrError);
    expect((err as EhrError).code).toBe('FHIR_INVALID');
    return {
      message: (err as Error).message,
      problems: ((err as EhrError).data['problems'] as unknown[]) ?? [],
    };
  }
  throw new Error('expected the bundle to be refused');
}

describe('planImport: bundles shaped like public FHIR examples', () => {
  const plan = planImport(JSON.stringify(foreign), LIMITS);

  it('imports what the ledger can keep and says why for each thing it skips', () => {
    expect(plan.items.map((i) => [i.resource, i.as, i.content.type])).toEqual([
      ['Observation/f001', 'report', 'text'],
      ['Observation/blood-pressure', 'report', 'text'],
      ['Observation#3', 'report', 'text'],
      ['DiagnosticReport/ultrasound', 'report', 'text'],
      ['DiagnosticReport/ultrasound[0]', 'document', 'file'],
      ['MedicationRequest/medrx0311', 'document', 'text'],
      ['DocumentReference/example[1]', 'document', 'text'],
    ]);
    expect(plan.skipped.map((x) => [x.entry, x.resource])).toEqual([
      [0, 'Patient/347'],
      [6, 'DocumentReference/example[0]'],
      [7, 'ImagingStudy/example'],
      [8, 'entry#8'],
    ]);
    expect(plan.skipped[1]?.reason).toMatch(/no inline data/);
    expect(plan.skipped[2]?.reason).toMatch(/not understood: ImagingStudy/);
  });

  it('turns observations, reports and prescriptions into readable text', () => {
    const text = (r: string) => {
      const c = plan.items.find((i) => i.resource === r)?.content;
      return c?.type === 'text' ? c.text : '';
    };
    expect(text('Observation/f001')).toBe(
      'Glucose [Moles/volume] in Blood: 6.3 mmol/l\ninterpretation: High\ndate: 2013-04-02T09:30:10+01:00',
    );
    expect(text('Observation/blood-pressure')).toContain('Systolic: 107 mmHg\nDiastolic: 60 mmHg');
    expect(text('Observation#3')).toBe('Smoking status: no value');
    expect(text('DiagnosticReport/ultrasound')).toContain('conclusion: Unremarkable study');
    const rx = text('MedicationRequest/medrx0311');
    expect(rx).toContain('medication: Azithromycin 250mg capsule'); // from the contained Medication
    expect(rx).toContain('dosage: Two tablets at once');
    expect(rx).toContain('by: Patrick Pump');
  });

  it('keeps attachment bytes exactly and attaches presented forms to their report', () => {
    const form = plan.items.find((i) => i.resource === 'DiagnosticReport/ultrasound[0]')!;
    expect(
      form.content.type === 'file' && Buffer.from(form.content.data).equals(Buffer.from(pdf)),
    ).toBe(true);
    expect(form.attachTo).toBe('DiagnosticReport/ultrasound');
    expect(plan.items.find((i) => i.resource === 'DiagnosticReport/ultrasound')?.names).toContain(
      'urn:uuid:3fdc72f4-a11d-4a9d-9260-a9f745779e1d',
    );
  });

  it('reads our own export back: reports with their hospital and specialization, documents attached, prescription text verbatim', () => {
    const b = new BundleBuilder();
    b.patient(s.alice, null);
    b.organization(s.city);
    for (const r of [s.report, s.ecg, s.loose]) b.record(r, s.contents[r.id]!);
    b.prescription(s.rx, { type: 'text', text: s.rxText });
    b.consent(s.consent, s.T0);
    const p = planImport(JSON.parse(JSON.stringify(b.bundle(s.T0, 'x'))), LIMITS);
    const [report, ecg, loose, rx] = p.items;
    expect(report).toMatchObject({
      as: 'report',
      hospital: 'city-general',
      specialization: 'cardiology',
      content: s.contents[s.report.id],
    });
    expect(ecg?.as).toBe('document');
    expect(report?.names).toContain(ecg?.attachTo);
    expect(ecg?.content).toEqual(s.contents[s.ecg.id]);
    expect(loose).toMatchObject({ as: 'document', content: s.contents[s.loose.id] });
    expect(loose?.attachTo).toBeUndefined();
    expect(rx?.content).toEqual({ type: 'text', text: s.rxText });
    expect(p.skipped.map((x) => x.resource.split('/')[0])).toEqual([
      'Patient',
      'Organization',
      'Consent',
    ]);
  });
});

describe('planImport: bad input is refused whole, with a message that says what is wrong', () => {
  it('not JSON, not a Bundle', () => {
    expect(problemsOf('{"resourceType": "Bundle", ').message).toMatch(/^not JSON/);
    expect(problemsOf('').message).toMatch(/^not JSON/);
    expect(problemsOf('[1,2]').message).toMatch(/expected a FHIR Bundle.*an array/);
    expect(problemsOf('"Bundle"').message).toMatch(/expected a FHIR Bundle/);
    expect(problemsOf({ resourceType: 'Patient', id: 'x' }).message).toMatch(/got a Patient/);
    expect(problemsOf({ resourceType: 'Bundle', entry: {} }).message).toMatch(
      /Bundle.entry is object/,
    );
  });

  it('wrong types anywhere in what is imported: every problem listed, nothing planned', () => {
    const bad = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'ok' } } },
        {
          resource: { resourceType: 'DocumentReference', status: 'current', content: 'not a list' },
        },
        {
          resource: { resourceType: 'DocumentReference', content: [{ attachment: { data: 42 } }] },
        },
        {
          resource: {
            resourceType: 'DocumentReference',
            content: [{ attachment: { data: 'not base64!' } }],
          },
        },
        {
          resource: {
            resourceType: 'DocumentReference',
            content: [{ attachment: { data: b64('abc'), size: 4 } }],
          },
        },
        {
          resource: {
            resourceType: 'DocumentReference',
            content: [{ attachment: { data: b64('abc'), hash: sha1('abd') } }],
          },
        },
        { resource: { resourceType: 42 } },
        { resource: ['Observation'] },
        'entry',
        { resource: { resourceType: 'Observation', id: 7 } },
        {
          resource: {
            resourceType: 'DocumentReference',
            content: [{ attachment: { data: b64('x'), size: -1 } }],
          },
        },
      ],
    };
    const { message, problems } = problemsOf(bad);
    expect(problems.map((p) => (p as { entry: number }).entry)).toEqual([
      1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(message).toMatch(/10 problems; nothing was submitted/);
    expect(message).toContain('entry 1 (DocumentReference#1): content is string, expected a list');
    expect(JSON.stringify(problems)).toContain('the data is damaged');
    expect(JSON.stringify(problems)).toContain('size says 4 bytes but the data holds 3');
  });

  it('a 50 MB attachment is over the chain limit: refused before it is decoded', () => {
    const big = 'A'.repeat(Math.ceil((50 * 1024 * 1024) / 3) * 4);
    const t = performance.now();
    const { message } = problemsOf({
      resourceType: 'Bundle',
      type: 'collection',
      entry: [
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'fine' } } },
        {
          resource: {
            resourceType: 'DocumentReference',
            id: 'scan',
            content: [{ attachment: { contentType: 'application/dicom', data: big } }],
          },
        },
      ],
    });
    expect(message).toMatch(
      /DocumentReference\/scan\): content\[0\]\.attachment is 50\.0 MB; this chain takes documents up to 8\.0 MB/,
    );
    expect(performance.now() - t).toBeLessThan(5000);
  });

  it('a huge string in a text report is refused against the document limit too', () => {
    const { message } = problemsOf({
      resourceType: 'Bundle',
      entry: [
        {
          resource: {
            resourceType: 'Observation',
            status: 'final',
            code: { text: 'x' },
            valueString: 'y'.repeat(9 * 1024 * 1024),
          },
        },
      ],
    });
    expect(message).toMatch(/limits.maxDocumentBytes/);
  });

  it('deep nesting is refused without a stack overflow', () => {
    let deep: unknown = { url: 'http://x', valueString: 'leaf' };
    for (let i = 0; i < 100_000; i++) deep = { url: 'http://x', extension: [deep] };
    const bundle = {
      resourceType: 'Bundle',
      entry: [{ resource: { resourceType: 'Observation', status: 'final', extension: [deep] } }],
    };
    expect(problemsOf(bundle).message).toMatch(
      new RegExp(`nested deeper than ${MAX_DEPTH} levels`),
    );
    // As text: JSON.parse itself may give up first; either way a clear refusal.
    const text = `${'{"resourceType":"Bundle","entry":['.repeat(1)}${'['.repeat(200_000)}${']'.repeat(200_000)}]}`;
    expect(problemsOf(text).message).toMatch(/not JSON|nested deeper/);
  });

  it('an empty bundle, or one with only things that are not records, plans nothing and fails nothing', () => {
    expect(planImport({ resourceType: 'Bundle', type: 'collection' }, LIMITS)).toEqual({
      items: [],
      skipped: [],
    });
    const p = planImport(
      {
        resourceType: 'Bundle',
        entry: [
          { resource: { resourceType: 'Patient' } },
          { resource: { resourceType: 'Basic', id: 'b' } },
        ],
      },
      LIMITS,
    );
    expect(p.items).toEqual([]);
    expect(p.skipped.map((x) => x.reason)).toEqual([
      expect.stringMatching(/profile is not changed/),
      expect.stringMatching(/not understood: Basic/),
    ]);
  });

  it('a text attachment that is not UTF-8 is kept as a file, byte for byte', () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x41, 0x00]);
    const p = planImport(
      {
        resourceType: 'Bundle',
        entry: [
          {
            resource: {
              resourceType: 'DocumentReference',
              content: [{ attachment: { contentType: 'text/plain', data: b64(bytes) } }],
            },
          },
        ],
      },
      LIMITS,
    );
    const c = p.items[0]?.content;
    expect(c?.type).toBe('file');
    expect(c?.type === 'file' && Buffer.from(c.data).equals(Buffer.from(bytes))).toBe(true);
  });
});
