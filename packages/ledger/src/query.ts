/**
 * Read helpers for the gateway and tools: typed getters by id, and listings as prefix scans over
 * the index keys (see keys.ts). Listings return entities oldest first where the index carries a
 * block position, otherwise in id order. `limit` bounds the scan.
 *
 * The role queries at the end (what a patient or doctor is listed) are built on the access rules
 * (access.ts): a doctor is listed exactly the reports `canRead` lets them open, so a list and a
 * read never disagree.
 */
import type {
  AccessReason,
  ConsentStatus,
  DoctorAccess,
  DoctorPatient,
  DoctorReport,
} from '@ehr/core';
import {
  type AccessDecision,
  canReaderRead,
  consentInForce,
  type Reader,
  resolveReader,
} from './access.ts';
import { keys, lastPart, prefixes } from './keys.ts';
import {
  type Admin,
  type AuditEvent,
  type Consent,
  type Doctor,
  getEntity,
  type HealthRecord,
  type Hospital,
  type Member,
  type Patient,
  type PayloadInfo,
  type Prescription,
  type Proposal,
  type TxEntry,
  type Vote,
} from './model.ts';
import type { StateReader, StateScanner } from './state.ts';

type Opts = { limit?: number };

export const getHospital = (s: StateReader, id: string) =>
  getEntity<Hospital>(s, keys.hospital(id));
export const getDoctor = (s: StateReader, key: string) => getEntity<Doctor>(s, keys.doctor(key));
export const getPatient = (s: StateReader, key: string) => getEntity<Patient>(s, keys.patient(key));
export const getRecord = (s: StateReader, id: string) =>
  getEntity<HealthRecord>(s, keys.record(id));
export const getPrescription = (s: StateReader, id: string) =>
  getEntity<Prescription>(s, keys.prescription(id));
export const getConsent = (s: StateReader, patient: string, hospital: string) =>
  getEntity<Consent>(s, keys.consent(patient, hospital));
export const getProposal = (s: StateReader, id: string) =>
  getEntity<Proposal>(s, keys.proposal(id));
export const getAuditEvent = (s: StateReader, id: string) =>
  getEntity<AuditEvent>(s, keys.audit(id));
export const getPayloadInfo = (s: StateReader, hash: string) =>
  getEntity<PayloadInfo>(s, keys.payload(hash));
/** Receipt of an applied (or rule-rejected) transaction by hash hex. */
export const getTxEntry = (s: StateReader, hash: string) => getEntity<TxEntry>(s, keys.tx(hash));
export const getMember = (s: StateReader, node: string) => getEntity<Member>(s, keys.member(node));

/** Ids listed under an index prefix (the last key part). */
export async function listIds(s: StateScanner, prefix: string, opts: Opts = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const [k] of s.scan(prefix, opts)) out.push(lastPart(k));
  return out;
}

/** Values stored directly under a prefix (entity keys such as `hospital/`, `consent/<p>/`). */
export async function listValues<T>(
  s: StateScanner,
  prefix: string,
  opts: Opts = {},
): Promise<T[]> {
  const out: T[] = [];
  for await (const [, v] of s.scan(prefix, opts)) out.push(v as unknown as T);
  return out;
}

/** Entities whose ids an index lists. */
async function resolve<T>(
  s: StateScanner,
  prefix: string,
  entityKey: (id: string) => string,
  opts: Opts,
): Promise<T[]> {
  const out: T[] = [];
  for (const id of await listIds(s, prefix, opts)) {
    const e = await getEntity<T>(s, entityKey(id));
    if (e !== undefined) out.push(e);
  }
  return out;
}

export const listHospitals = (s: StateScanner, o: Opts = {}) =>
  listValues<Hospital>(s, prefixes.hospitals(), o);
export const listAdmins = (s: StateScanner, o: Opts = {}) =>
  listValues<Admin>(s, prefixes.admins(), o);
export const listMembers = (s: StateScanner, o: Opts = {}) =>
  listValues<Member>(s, prefixes.members(), o);
export const listDoctors = (s: StateScanner, hospital: string, o: Opts = {}) =>
  resolve<Doctor>(s, prefixes.hospitalDoctors(hospital), keys.doctor, o);
export const listPatientRecords = (s: StateScanner, patient: string, o: Opts = {}) =>
  resolve<HealthRecord>(s, prefixes.patientRecords(patient), keys.record, o);
export const listHospitalRecords = (s: StateScanner, hospital: string, o: Opts = {}) =>
  resolve<HealthRecord>(s, prefixes.hospitalRecords(hospital), keys.record, o);
export const listPending = (
  s: StateScanner,
  hospital: string,
  specialization: string,
  o: Opts = {},
) => resolve<HealthRecord>(s, prefixes.pending(hospital, specialization), keys.record, o);
/** Reports prescribed for by a doctor (one entry per prescription). */
export const listDoctorRecords = (s: StateScanner, doctor: string, o: Opts = {}) =>
  resolve<HealthRecord>(s, prefixes.doctorRecords(doctor), keys.record, o);
export const listDocuments = (s: StateScanner, report: string, o: Opts = {}) =>
  resolve<HealthRecord>(s, prefixes.reportDocuments(report), keys.record, o);
export const listRecordPrescriptions = (s: StateScanner, record: string, o: Opts = {}) =>
  resolve<Prescription>(s, prefixes.recordPrescriptions(record), keys.prescription, o);
export const listPatientPrescriptions = (s: StateScanner, patient: string, o: Opts = {}) =>
  resolve<Prescription>(s, prefixes.patientPrescriptions(patient), keys.prescription, o);
export const listPatientConsents = (s: StateScanner, patient: string, o: Opts = {}) =>
  listValues<Consent>(s, prefixes.patientConsents(patient), o);
export const listHospitalConsents = async (s: StateScanner, hospital: string, o: Opts = {}) => {
  const out: Consent[] = [];
  for (const patient of await listIds(s, prefixes.hospitalConsents(hospital), o)) {
    const c = await getConsent(s, patient, hospital);
    if (c) out.push(c);
  }
  return out;
};
export const listProposals = (s: StateScanner, o: Opts = {}) =>
  listValues<Proposal>(s, prefixes.proposals(), o);
export const listVotes = (s: StateScanner, proposal: string, o: Opts = {}) =>
  listValues<Vote>(s, prefixes.votes(proposal), o);
/** Who accessed a patient's data, oldest first. */
export const listPatientAudit = (s: StateScanner, patient: string, o: Opts = {}) =>
  resolve<AuditEvent>(s, prefixes.patientAudit(patient), keys.audit, o);
export const listReaderAudit = (s: StateScanner, reader: string, o: Opts = {}) =>
  resolve<AuditEvent>(s, prefixes.readerAudit(reader), keys.audit, o);

/** Pending reports a doctor may see: their hospital, their specialization. */
export async function listPendingForDoctor(
  s: StateScanner,
  doctor: string,
  o: Opts = {},
): Promise<HealthRecord[]> {
  const d = await getDoctor(s, doctor);
  if (!d?.active) return [];
  const h = await getHospital(s, d.hospital);
  if (!h?.active) return [];
  return listPending(s, d.hospital, d.specialization, o);
}

/** Data keys of a record wrapped per hospital id. */
export async function listRecordKeys(
  s: StateScanner,
  record: string,
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const [k, v] of s.scan(prefixes.recordKeys(record))) {
    if (v instanceof Uint8Array) out.set(lastPart(k), v);
  }
  return out;
}

/** How far the role queries scan an index for candidates (lists have no cursor yet). */
const SCAN: Opts = { limit: 10_000 };

/** A patient's reports (not their documents), oldest first. */
export async function listPatientReports(
  s: StateScanner,
  patient: string,
  o: Opts = {},
): Promise<HealthRecord[]> {
  const all = await listPatientRecords(s, patient, SCAN);
  return all.filter((r) => r.kind === 'report').slice(0, o.limit);
}

/** A patient's documents, oldest first: all of them, or those attached to one of their reports. */
export async function listPatientDocuments(
  s: StateScanner,
  patient: string,
  o: Opts & { report?: string } = {},
): Promise<HealthRecord[]> {
  if (o.report !== undefined) {
    const docs = await listDocuments(s, o.report, { limit: o.limit });
    return docs.filter((r) => r.patient === patient);
  }
  const all = await listPatientRecords(s, patient, SCAN);
  return all.filter((r) => r.kind === 'document').slice(0, o.limit);
}

/** A patient's consents, with whether each is in force at `now` (the rule canRead applies). */
export async function listPatientConsentsAt(
  s: StateScanner,
  patient: string,
  now: number,
  o: Opts = {},
): Promise<ConsentStatus[]> {
  return (await listPatientConsents(s, patient, o)).map((c) => ({
    ...c,
    inForce: consentInForce(c, now),
  }));
}

/** canRead's reasons that let a doctor read a report. */
const isDoctorAccess = (r: AccessReason): r is DoctorAccess =>
  r === 'PENDING_REPORT' || r === 'PRESCRIBER' || r === 'CONSENT';

/**
 * Ids canRead may allow a doctor, in list order: the pending reports of their hospital and
 * specialization, the reports they prescribed on, then the records of every patient whose
 * consent to their hospital is in force. Every rule of canRead that lets a doctor read a report
 * starts from one of these indexes, so nothing openable is missed; canRead then decides each.
 */
async function* doctorCandidates(
  s: StateScanner,
  doctor: Doctor,
  now: number,
): AsyncGenerator<string> {
  yield* await listIds(s, prefixes.pending(doctor.hospital, doctor.specialization), SCAN);
  yield* await listIds(s, prefixes.doctorRecords(doctor.key), SCAN);
  for (const c of await listHospitalConsents(s, doctor.hospital, SCAN)) {
    if (consentInForce(c, now)) yield* await listIds(s, prefixes.patientRecords(c.patient), SCAN);
  }
}

/** An active doctor at an active hospital, resolved once; anyone else reads nothing here. */
async function activeDoctor(
  s: StateScanner,
  key: string,
): Promise<{ reader: Reader; doctor: Doctor } | undefined> {
  const reader = await resolveReader(s, key);
  const doctor = reader.doctor;
  return doctor?.active && reader.hospital?.active ? { reader, doctor } : undefined;
}

/**
 * The reports a doctor may open at `now` (ms): exactly those `canRead(state, doctor, id, now)`
 * allows, each with its reason (PENDING_REPORT, PRESCRIBER or CONSENT). Pending ones first,
 * then those prescribed on, then those shared by consent. A consent scoped to the patient's own
 * id covers the profile only, as in canRead; an erased report is not listed (it cannot be read).
 */
export async function listDoctorReports(
  s: StateScanner,
  doctor: string,
  now: number,
  o: Opts = {},
): Promise<DoctorReport[]> {
  const limit = o.limit ?? Number.POSITIVE_INFINITY;
  const d = await activeDoctor(s, doctor);
  const out: DoctorReport[] = [];
  if (!d || limit <= 0) return out;
  const seen = new Set<string>();
  for await (const id of doctorCandidates(s, d.doctor, now)) {
    if (seen.has(id)) continue;
    seen.add(id);
    // canRead itself, with the reader resolved once for the whole list.
    const decision: AccessDecision = await canReaderRead(s, d.reader, id, now);
    const t = decision.target;
    if (!decision.allowed || t?.type !== 'report' || !isDoctorAccess(decision.reason)) continue;
    out.push({ ...t.record, access: decision.reason });
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * A doctor's patients at `now`: those with a report the doctor may open (listDoctorReports),
 * then those whose profile only the doctor may open (a consent scoped to it), in that order.
 */
export async function listDoctorPatients(
  s: StateScanner,
  doctor: string,
  now: number,
  o: Opts = {},
): Promise<DoctorPatient[]> {
  const d = await activeDoctor(s, doctor);
  if (!d) return [];
  const out = new Map<string, DoctorPatient>();
  const note = (patient: string, reason: DoctorAccess, reports: number) => {
    const e = out.get(patient) ?? { patient, reasons: [], reports: 0 };
    e.reports += reports;
    if (!e.reasons.includes(reason)) e.reasons.push(reason);
    out.set(patient, e);
  };
  for (const r of await listDoctorReports(s, doctor, now, SCAN)) note(r.patient, r.access, 1);
  for (const c of await listHospitalConsents(s, d.doctor.hospital, SCAN)) {
    if (out.has(c.patient) || !consentInForce(c, now)) continue;
    const decision = await canReaderRead(s, d.reader, c.patient, now);
    if (decision.allowed && isDoctorAccess(decision.reason)) note(c.patient, decision.reason, 0);
  }
  return [...out.values()].slice(0, o.limit);
}

/**
 * The documents of a report `reader` may open at `now`: none unless canRead allows the report
 * (the decision says why), then each document canRead allows (an erased one is left out).
 */
export async function listReadableDocuments(
  s: StateScanner,
  reader: string,
  report: string,
  now: number,
  o: Opts = {},
): Promise<{ decision: AccessDecision; documents: HealthRecord[] }> {
  const who = await resolveReader(s, reader);
  const decision = await canReaderRead(s, who, report, now);
  if (!decision.allowed || decision.target?.type !== 'report') return { decision, documents: [] };
  const documents: HealthRecord[] = [];
  for (const doc of await listDocuments(s, report, { limit: o.limit })) {
    if ((await canReaderRead(s, who, doc.id, now)).allowed) documents.push(doc);
  }
  return { decision, documents };
}
