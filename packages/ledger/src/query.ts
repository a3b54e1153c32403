/**
 * Read helpers for the gateway and tools: typed getters by id, and listings as prefix scans over
 * the index keys (see keys.ts). Listings return entities oldest first where the index carries a
 * block position, otherwise in id order. `limit` bounds the scan.
 */
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
