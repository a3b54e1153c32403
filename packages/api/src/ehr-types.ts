/**
 * Ledger entities as the gateway serves them, and the results the role client returns. The
 * entities are declared once in @ehr/core (entities.ts), where the ledger takes them too; here
 * they are their JSON shapes (`JsonOf`: byte fields are lowercase hex) plus what a method adds.
 */
import type {
  Admin,
  AuditEvent,
  Consent,
  ConsentStatus,
  Doctor,
  DoctorAccess,
  DoctorPatient,
  HealthRecord,
  Hospital,
  JsonOf,
  Member,
  Prescription,
  Proposal,
  Vote,
} from '@ehr/core';
import type { Content } from './sealing.ts';

export type HospitalInfo = JsonOf<Hospital>;
export type DoctorInfo = JsonOf<Doctor>;

/** A record as served; doctor_reports adds why the doctor may read it (`access`). */
export type RecordInfo = JsonOf<HealthRecord> & { access?: DoctorAccess };

export type PrescriptionInfo = JsonOf<Prescription>;

/** A consent; patient_consents adds whether it is in force (by the serving node's clock). */
export type ConsentInfo = Consent & { inForce?: ConsentStatus['inForce'] };

/** An audit event; patient_audit adds who the reader is, when a doctor ('you' for the patient). */
export type AuditEventInfo = AuditEvent & {
  readerName?: string | null;
  readerHospital?: string | null;
};

/** A proposal; gov_proposal adds its votes. */
export type ProposalInfo = Proposal & { votes?: Vote[] };

export interface MembersInfo {
  members: Member[];
  admins: Admin[];
}

export interface ValidatorsInfo {
  onChain: string[];
  voters: string[];
  learners: string[];
}

export interface AccountInfo {
  key: string;
  /** The next nonce the chain expects (committed state): sign from this. */
  nonce: number;
  role: 'admin' | 'doctor' | 'patient' | 'node' | null;
  /** What this node holds pending for the account (may differ between nodes; may never commit). */
  pending: { hash: string; nonce: number; expires: number }[];
}

/** doctor_patients: a patient and why the doctor sees them. */
export type DoctorPatientInfo = DoctorPatient;

/** A committed transaction of this client. */
export interface TxOutcome {
  /** Transaction hash (hex): also the id of what it created. */
  hash: string;
  kind: string;
  /** Committed at (absent when submitted with mode async/sync). */
  height?: number;
  index?: number;
  status: 'committed' | 'pending';
  /** Pending: its deadline (block time, ms); it can never commit after it. */
  expires?: number;
}

/** A record or prescription opened on this side, with why the node served it. */
export interface Opened<T> {
  item: T;
  content: Content;
  /** The access rule that allowed the read (PATIENT_OWN, PENDING_REPORT, CONSENT, PRESCRIBER). */
  reason: string;
  /** Hash of the access.record transaction the serving node submitted. */
  audit: string | null;
}

export interface SharedResult {
  hospital: string;
  expiresAt: number | null;
  /** Records (and the profile) whose data key was wrapped for the hospital. */
  keysShared: number;
  txs: TxOutcome[];
}
