/**
 * The paged lists the gateway serves: each a range scan (or a few, in phases) of one index from
 * the cursor on (paging.ts), in a stable order. The role lists keep the access rule in one place:
 * a doctor is listed exactly the reports canReaderRead lets them open, each in the one phase that
 * matches the reason canRead gives (pending, prescribed on, shared by consent), so no report is
 * listed twice and nothing openable is missed.
 */
import type {
  AccessReason,
  ConsentStatus,
  DoctorAccess,
  DoctorPatient,
  DoctorReport,
  Value,
} from '@ehr/core';
import { type AccessDecision, canReaderRead, consentInForce, resolveReader } from './access.ts';
import { keys, lastPart, prefixes } from './keys.ts';
import type {
  AuditEvent,
  Consent,
  Doctor,
  HealthRecord,
  Hospital,
  Prescription,
  Proposal,
} from './model.ts';
import { type Page, type PageOpts, type Phase, page, pageLimit, within } from './paging.ts';
import { getAuditEvent, getDoctor, getPrescription, getProposal, getRecord } from './query.ts';
import { qx, qxPrefixes } from './query-index.ts';
import type { StateScanner } from './state.ts';

type Map1<T> = (key: string, value: unknown) => Promise<T | undefined> | T | undefined;

/** A phase scanning one prefix (descending when `reverse`), each entry mapped to an item. */
export function scanPhase<T>(
  s: StateScanner,
  list: string,
  prefix: string,
  map: Map1<T>,
  reverse = false,
): Phase<T> {
  return async function* (after) {
    const from = after ? within(list, after[0], prefix) : undefined;
    const range = from === undefined ? {} : reverse ? { before: from } : { after: from };
    for await (const [k, v] of s.scan(prefix, { ...range, reverse })) {
      yield { at: [k], item: (await map(k, v)) ?? undefined };
    }
  };
}

const byId =
  <T>(get: (s: StateScanner, id: string) => Promise<T | undefined>, s: StateScanner) =>
  (k: string) =>
    get(s, lastPart(k));

export const pageHospitals = (s: StateScanner, o: PageOpts = {}): Promise<Page<Hospital>> =>
  page('hospital_list', [scanPhase(s, 'hospital_list', 'hospital/', (_k, v) => v as Hospital)], o);

export const pageDoctors = (s: StateScanner, hospital: string, o: PageOpts = {}) =>
  page<Doctor>(
    'doctor_list',
    [scanPhase(s, 'doctor_list', prefixes.hospitalDoctors(hospital), byId(getDoctor, s))],
    o,
  );

export const pagePatientReports = (s: StateScanner, patient: string, o: PageOpts = {}) =>
  page<HealthRecord>(
    'patient_reports',
    [
      scanPhase(
        s,
        'patient_reports',
        qxPrefixes.patientKind(patient, 'report'),
        byId(getRecord, s),
      ),
    ],
    o,
  );

/** A patient's documents, oldest first: all, or those attached to one of their own reports. */
export async function pagePatientDocuments(
  s: StateScanner,
  patient: string,
  o: PageOpts & { report?: string } = {},
): Promise<Page<HealthRecord>> {
  if (o.report !== undefined) {
    const report = await getRecord(s, o.report);
    pageLimit(o.limit);
    if (report?.patient !== patient) return { items: [] };
    const own = async (k: string) => {
      const r = await getRecord(s, lastPart(k));
      return r?.patient === patient ? r : undefined;
    };
    return page(
      'patient_documents',
      [scanPhase(s, 'patient_documents', prefixes.reportDocuments(o.report), own)],
      o,
    );
  }
  return page(
    'patient_documents',
    [
      scanPhase(
        s,
        'patient_documents',
        qxPrefixes.patientKind(patient, 'document'),
        byId(getRecord, s),
      ),
    ],
    o,
  );
}

export const pagePatientPrescriptions = (s: StateScanner, patient: string, o: PageOpts = {}) =>
  page<Prescription>(
    'patient_prescriptions',
    [
      scanPhase(
        s,
        'patient_prescriptions',
        prefixes.patientPrescriptions(patient),
        byId(getPrescription, s),
      ),
    ],
    o,
  );

/** A patient's consents by hospital id, with whether each is in force at `now`. */
export const pagePatientConsents = (
  s: StateScanner,
  patient: string,
  now: number,
  o: PageOpts = {},
) =>
  page<ConsentStatus>(
    'patient_consents',
    [
      scanPhase(s, 'patient_consents', prefixes.patientConsents(patient), (_k, v) => {
        const c = v as Consent;
        return { ...c, inForce: consentInForce(c, now) };
      }),
    ],
    o,
  );

/** Who read a patient's data, oldest first. */
export const pagePatientAudit = (s: StateScanner, patient: string, o: PageOpts = {}) =>
  page<AuditEvent>(
    'patient_audit',
    [scanPhase(s, 'patient_audit', prefixes.patientAudit(patient), byId(getAuditEvent, s))],
    o,
  );

/** Governance proposals, newest first, optionally those with one status. */
export const pageProposals = (
  s: StateScanner,
  status: Proposal['status'] | undefined,
  o: PageOpts = {},
) =>
  page<Proposal>(
    'gov_proposals',
    [
      scanPhase(
        s,
        'gov_proposals',
        status === undefined ? qxPrefixes.proposals() : qxPrefixes.proposalsStatus(status),
        async (k) => {
          const p = await getProposal(s, lastPart(k));
          return p && (status === undefined || p.status === status) ? p : undefined;
        },
        true,
      ),
    ],
    o,
  );

/**
 * The state as one page of a role list reads it: each key read once (a patient's consent, say,
 * decides every report of theirs). Bounded by the page's budget, dropped with the page; callers
 * never mutate what the access rules return.
 */
function pageReader(s: StateScanner): StateScanner {
  const seen = new Map<string, Promise<Value | undefined>>();
  return {
    get(key) {
      let v = seen.get(key);
      if (v === undefined) {
        v = s.get(key);
        seen.set(key, v);
      }
      return v;
    },
    scan: (prefix, opts) => s.scan(prefix, opts),
  };
}

/** Lists decide access but serve no data keys. */
const NO_KEY = { withKey: false } as const;

/** A patient's report ids, oldest first. */
async function reportIds(s: StateScanner, patient: string): Promise<string[]> {
  return ((await s.get(qx.patientReportIds(patient))) as string[] | undefined) ?? [];
}

const isDoctorAccess = (r: AccessReason): r is DoctorAccess =>
  r === 'PENDING_REPORT' || r === 'PRESCRIBER' || r === 'CONSENT';

/** An active doctor at an active hospital, resolved once; anyone else is listed nothing. */
async function activeDoctor(s: StateScanner, key: string) {
  const reader = await resolveReader(s, key);
  const doctor = reader.doctor;
  return doctor?.active && reader.hospital?.active ? { reader, doctor } : undefined;
}

/**
 * The reports a doctor may open at `now` (ms), one page: exactly those canRead allows with a
 * doctor's reason. Pending ones first (their hospital and specialization, oldest first), then
 * those they prescribed on (in the order of their first prescription), then those shared by a
 * consent in force (by patient key, then oldest first). Each phase lists only the reports canRead
 * gives its own reason for, so a report is listed once.
 */
export async function pageDoctorReports(
  state: StateScanner,
  doctor: string,
  now: number,
  o: PageOpts = {},
): Promise<Page<DoctorReport>> {
  const list = 'doctor_reports';
  const s = pageReader(state);
  pageLimit(o.limit);
  const d = await activeDoctor(s, doctor);
  if (!d) return { items: [] };
  const { reader } = d;
  const decide = async (id: string, reason: DoctorAccess): Promise<DoctorReport | undefined> => {
    const decision: AccessDecision = await canReaderRead(s, reader, id, now, NO_KEY);
    const t = decision.target;
    if (!decision.allowed || t?.type !== 'report' || decision.reason !== reason) return undefined;
    return { ...t.record, access: reason };
  };
  const pendingPrefix = prefixes.pending(d.doctor.hospital, d.doctor.specialization);
  const consentPrefix = qxPrefixes.consentsLive(d.doctor.hospital);
  const consentPhase: Phase<DoctorReport> = async function* (after) {
    // The patient's reports, oldest first (one read), from after the report `from`.
    const reportsOf = async function* (consentKey: string, from: string | undefined) {
      const ids = await reportIds(s, lastPart(consentKey));
      let start = 0;
      if (from !== undefined && from !== '') {
        start = ids.indexOf(from) + 1;
        if (start === 0) within(list, undefined, '');
      }
      for (const id of ids.slice(start)) {
        yield { at: [consentKey, id], item: await decide(id, 'CONSENT') };
      }
    };
    let from: string | undefined;
    if (after) {
      from = within(list, after[0], consentPrefix);
      yield* reportsOf(from, after[1]);
    }
    for await (const [k, v] of s.scan(consentPrefix, from === undefined ? {} : { after: from })) {
      const c = await s.get(keys.consent(v as string, d.doctor.hospital));
      // Revoked ones are not in this index; expired ones are skipped here, whole.
      if (c === undefined || !consentInForce(c as unknown as Consent, now)) {
        yield { at: [k, ''] };
        continue;
      }
      yield* reportsOf(k, undefined);
    }
  };
  return page(
    list,
    [
      scanPhase(s, list, pendingPrefix, (k) => decide(lastPart(k), 'PENDING_REPORT')),
      scanPhase(s, list, qxPrefixes.doctorPrescribed(doctor), (k) =>
        decide(lastPart(k), 'PRESCRIBER'),
      ),
      consentPhase,
    ],
    o,
  );
}

/**
 * A doctor's patients at `now`, one page, by patient key: those with a report the doctor may open
 * (pending for them, prescribed on, shared by consent: `reports` counts them and `reasons` says
 * why), and those whose profile alone is shared with the doctor's hospital (reports 0). The
 * candidates are the merge of three indexes by patient key; each is then decided by canRead.
 */
export async function pageDoctorPatients(
  state: StateScanner,
  doctor: string,
  now: number,
  o: PageOpts = {},
): Promise<Page<DoctorPatient>> {
  const list = 'doctor_patients';
  const s = pageReader(state);
  pageLimit(o.limit);
  const d = await activeDoctor(s, doctor);
  if (!d) return { items: [] };
  const { reader } = d;
  const sources = [
    qxPrefixes.pendingPatients(d.doctor.hospital, d.doctor.specialization),
    qxPrefixes.doctorPrescribedPatients(doctor),
    qxPrefixes.consentsLive(d.doctor.hospital),
  ];
  const entry = async (patient: string): Promise<DoctorPatient | undefined> => {
    const e: DoctorPatient = { patient, reasons: [], reports: 0 };
    for (const id of await reportIds(s, patient)) {
      const decision = await canReaderRead(s, reader, id, now, NO_KEY);
      if (!decision.allowed || !isDoctorAccess(decision.reason)) continue;
      e.reports++;
      if (!e.reasons.includes(decision.reason)) e.reasons.push(decision.reason);
    }
    if (e.reports === 0) {
      const decision = await canReaderRead(s, reader, patient, now, NO_KEY);
      if (!decision.allowed || !isDoctorAccess(decision.reason)) return undefined;
      e.reasons.push(decision.reason);
    }
    return e;
  };
  // One phase over the merged candidates: the cursor is the last patient key decided.
  const merged: Phase<DoctorPatient> = async function* (after) {
    let last: string | undefined;
    if (after) {
      const p = after[0];
      if (p === undefined || !/^[0-9a-f]{64}$/.test(p)) within(list, undefined, '');
      last = p;
    }
    const chunk = 256;
    for (;;) {
      // Patient keys after `last` from every source, up to `chunk` each; those up to the
      // smallest "last key" of a full source are complete.
      const found = new Set<string>();
      let bound: string | undefined;
      for (const prefix of sources) {
        const got: string[] = [];
        const range = last === undefined ? {} : { after: prefix + last };
        for await (const [k] of s.scan(prefix, { ...range, limit: chunk })) got.push(lastPart(k));
        for (const g of got) found.add(g);
        if (got.length === chunk) {
          const end = got[got.length - 1]!;
          if (bound === undefined || end < bound) bound = end;
        }
      }
      const ready = [...found].filter((p) => bound === undefined || p <= bound).sort();
      for (const patient of ready) yield { at: [patient], item: await entry(patient) };
      if (bound === undefined) return;
      last = bound;
    }
  };
  return page(list, [merged], o);
}

/**
 * The documents of a report `reader` may open at `now`, one page: none unless canRead allows the
 * report (the decision says why), then each document canRead allows, oldest first.
 */
export async function pageReadableDocuments(
  s: StateScanner,
  reader: string,
  report: string,
  now: number,
  o: PageOpts = {},
): Promise<{ decision: AccessDecision; page: Page<HealthRecord> }> {
  pageLimit(o.limit);
  const who = await resolveReader(s, reader);
  const decision = await canReaderRead(s, who, report, now);
  if (!decision.allowed || decision.target?.type !== 'report') {
    return { decision, page: { items: [] } };
  }
  const pg = await page(
    'record_documents',
    [
      scanPhase(s, 'record_documents', prefixes.reportDocuments(report), async (k) => {
        const id = lastPart(k);
        if (!(await canReaderRead(s, who, id, now, NO_KEY)).allowed) return undefined;
        return getRecord(s, id);
      }),
    ],
    o,
  );
  return { decision, page: pg };
}
