/**
 * Export on the client: everything is read and opened through the account's own EhrClient (the
 * serving node records each read in the audit trail) and mapped here; no node ever sees FHIR or
 * plaintext.
 */
import type { Content, EhrClient, HospitalInfo, PrescriptionInfo, RecordInfo } from '@ehr/api';
import { EhrError, type PurposeCode } from '@ehr/core';
import type { Bundle } from '@medplum/fhirtypes';
import { BundleBuilder } from './export-map.ts';

export interface ExportResult {
  bundle: Bundle;
  /** How many resources of each type. */
  counts: Record<string, number>;
  /** Things that could not be opened and are left out, with why. */
  warnings: string[];
}

function counts(b: Bundle): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of b.entry ?? []) {
    const t = e.resource?.resourceType ?? '?';
    out[t] = (out[t] ?? 0) + 1;
  }
  return out;
}

async function hospitalsOf(
  client: EhrClient,
  ids: Iterable<string>,
  b: BundleBuilder,
  warnings: string[],
) {
  const out = new Map<string, HospitalInfo>();
  for (const id of new Set(ids)) {
    try {
      const h = await client.directory.hospital(id);
      out.set(id, h);
      b.organization(h);
    } catch (err) {
      warnings.push(`hospital ${id}: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * A patient's whole story: profile, hospitals, reports and documents (opened), prescriptions
 * with their doctors, consents and the audit trail as it stood when the export began.
 */
export async function exportPatient(
  client: EhrClient,
  opts: { now?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<ExportResult> {
  const now = opts.now ?? Date.now();
  const warnings: string[] = [];
  const b = new BundleBuilder();
  // The trail first: the export's own reads are recorded after it began.
  const [audit, consents, reports, documents, prescriptions] = await Promise.all([
    client.patient.audit(),
    client.patient.consents(),
    client.patient.reports(),
    client.patient.documents(),
    client.patient.prescriptions(),
  ]);
  const profile = await client.patient.profile('PATRQT').catch((err: unknown) => {
    warnings.push(`profile: ${(err as Error).message}`);
    return null;
  });
  b.patient(client.key, profile?.content ?? null);
  const records: RecordInfo[] = [...reports.map(({ documents: _d, ...r }) => r), ...documents];
  await hospitalsOf(
    client,
    [
      ...records.flatMap((r) => (r.hospital ? [r.hospital] : [])),
      ...consents.map((c) => c.hospital),
      ...prescriptions.map((p) => p.hospital),
    ],
    b,
    warnings,
  );
  for (const d of new Set(prescriptions.map((p) => p.doctor))) {
    try {
      b.doctor(await client.directory.doctor(d));
    } catch (err) {
      warnings.push(`doctor ${d.slice(0, 16)}…: ${(err as Error).message}`);
    }
  }
  // Reports before documents so an attached document's relatesTo points into the bundle.
  let done = 0;
  for (const r of records) {
    try {
      const opened = await client.patient.readRecord(r.id, 'PATRQT');
      b.record(r, opened.content);
    } catch (err) {
      warnings.push(`${r.kind} ${r.id.slice(0, 16)}…: ${(err as Error).message}`);
    }
    opts.onProgress?.(++done, records.length);
  }
  for (const p of prescriptions) {
    if (p.content) b.prescription(p, p.content);
    else warnings.push(`prescription ${p.id.slice(0, 16)}…: ${p.error ?? 'cannot be opened'}`);
  }
  for (const c of consents) b.consent(c, now);
  for (const e of audit) b.audit(e);
  const bundle = b.bundle(now, `patient/${client.key}/${now}`);
  return { bundle, counts: counts(bundle), warnings };
}

/**
 * The doctor's side: one report (opened with the hospital's key), its patient, hospital, the
 * doctor, and the prescriptions given by id (the ledger lists a doctor's prescriptions nowhere,
 * so the caller names them: `prescribe` returned their ids).
 */
export async function exportDoctorReport(
  client: EhrClient,
  report: string,
  prescriptions: string[] = [],
  opts: { now?: number; purpose?: PurposeCode } = {},
): Promise<ExportResult> {
  const now = opts.now ?? Date.now();
  const purpose = opts.purpose ?? 'TREAT';
  const warnings: string[] = [];
  const b = new BundleBuilder();
  const me = await client.doctor.me();
  const opened = await client.doctor.readReport(report, purpose);
  if (opened.item.kind !== 'report') {
    throw new EhrError('INVALID_STATE', `${report.slice(0, 16)}… is a document, not a report`, {
      record: report,
    });
  }
  b.patient(opened.item.patient, null);
  const hospitals = new Set([me.hospital, ...(opened.item.hospital ? [opened.item.hospital] : [])]);
  const rxs: { item: PrescriptionInfo; content: Content }[] = [];
  for (const id of prescriptions) {
    const p = await client.doctor.readPrescription(id, purpose);
    if (p.item.record !== report) {
      throw new EhrError(
        'BAD_ARGUMENT',
        `prescription ${id.slice(0, 16)}… is for report ${p.item.record.slice(0, 16)}…, not ${report.slice(0, 16)}…`,
        { prescription: id, report },
      );
    }
    hospitals.add(p.item.hospital);
    rxs.push({ item: p.item, content: p.content });
  }
  await hospitalsOf(client, hospitals, b, warnings);
  b.doctor(me);
  for (const d of new Set(rxs.map((p) => p.item.doctor))) {
    if (d !== me.key) b.doctor(await client.directory.doctor(d));
  }
  b.record(opened.item, opened.content);
  for (const p of rxs) b.prescription(p.item, p.content);
  const bundle = b.bundle(now, `report/${report}/${now}`);
  return { bundle, counts: counts(bundle), warnings };
}
