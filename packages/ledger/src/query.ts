/**
 * Read helpers for the gateway and tools: typed getters by id, and listings as prefix scans over
 * the index keys (see keys.ts). Listings return entities oldest first where the index carries a
 * block position, otherwise in id order. `limit` bounds the scan. The gateway serves the paged
 * forms (paged-query.ts); the role lists here are every page of those, for tools and tests.
 *
 * The role queries at the end (what a patient or doctor is listed) are built on the access rules
 * (access.ts): a doctor is listed exactly the reports `canRead` lets them open, so a list and a
 * read never disagree.
 */
import type { ConsentStatus, DoctorPatient, DoctorReport } from '@ehr/core';
import { type AccessDecision, consentInForce } from './access.ts';
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
import {
  pageDoctorPatients,
  pageDoctorReports,
  pagePatientDocuments,
  pagePatientReports,
  pageReadableDocuments,
} from './paged-query.ts';
import { all } from './paging.ts';
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

/** A patient's reports (not their documents), oldest first (every page of pagePatientReports). */
export async function listPatientReports(
  s: StateScanner,
  patient: string,
  o: Opts = {},
): Promise<HealthRecord[]> {
  return (await all((p) => pagePatientReports(s, patient, p))).slice(0, o.limit);
}

/** A patient's documents, oldest first: all of them, or those attached to one of their reports. */
export async function listPatientDocuments(
  s: StateScanner,
  patient: string,
  o: Opts & { report?: string } = {},
): Promise<HealthRecord[]> {
  const report = o.report === undefined ? {} : { report: o.report };
  return (await all((p) => pagePatientDocuments(s, patient, { ...p, ...report }))).slice(
    0,
    o.limit,
  );
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

/**
 * The reports a doctor may open at `now` (ms): exactly those `canRead(state, doctor, id, now)`
 * allows, each with its reason (PENDING_REPORT, PRESCRIBER or CONSENT), in the order of
 * pageDoctorReports (every page of it).
 */
export async function listDoctorReports(
  s: StateScanner,
  doctor: string,
  now: number,
  o: Opts = {},
): Promise<DoctorReport[]> {
  return (await all((p) => pageDoctorReports(s, doctor, now, p))).slice(0, o.limit);
}

/** A doctor's patients at `now` (every page of pageDoctorPatients). */
export async function listDoctorPatients(
  s: StateScanner,
  doctor: string,
  now: number,
  o: Opts = {},
): Promise<DoctorPatient[]> {
  return (await all((p) => pageDoctorPatients(s, doctor, now, p))).slice(0, o.limit);
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
  let decision: AccessDecision | undefined;
  const documents = await all(async (p) => {
    const r = await pageReadableDocuments(s, reader, report, now, p);
    decision = r.decision;
    return r.page;
  });
  return { decision: decision!, documents: documents.slice(0, o.limit) };
}
