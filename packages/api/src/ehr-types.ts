/**
 * Ledger entities as the gateway serves them (JSON: byte fields are lowercase hex), and the
 * results the role client returns. Mirrors the entity types of @ehr/ledger (src/model.ts)
 * without importing the rules into clients.
 */
import type { Content } from './sealing.ts';

export interface HospitalInfo {
  id: string;
  name: string;
  address: string;
  specializations: string[];
  contact: string;
  nodes: string[];
  /** Ed25519 public key (hex) data keys are wrapped to for this hospital. */
  encryptionKey: string;
  active: boolean;
  registeredAt: number;
  updatedAt: number;
}

export interface DoctorInfo {
  key: string;
  hospital: string;
  name: string;
  specialization: string;
  qualification: string;
  experience: number;
  contact: string;
  active: boolean;
  registeredAt: number;
}

export interface RecordInfo {
  id: string;
  kind: 'report' | 'document';
  patient: string;
  hospital: string | null;
  specialization: string | null;
  report: string | null;
  status: 'pending' | 'prescribed' | null;
  payloadHash: string;
  payloadSize: number;
  /** Data key wrapped for the patient (hex). */
  patientKey: string;
  submittedAt: number;
  pos: string;
  /** doctor_reports: why the doctor may read it (PENDING_REPORT or CONSENT). */
  access?: string;
}

export interface PrescriptionInfo {
  id: string;
  record: string;
  patient: string;
  doctor: string;
  doctorName: string;
  hospital: string;
  payloadHash: string;
  payloadSize: number;
  patientKey: string;
  hospitalKey: string;
  writtenAt: number;
  pos: string;
}

export interface ConsentInfo {
  patient: string;
  hospital: string;
  scope: 'all' | string[];
  grantedAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** Computed by the gateway with its clock. */
  inForce?: boolean;
}

export interface AuditEventInfo {
  id: string;
  node: string;
  reader: string;
  target: string;
  patient: string;
  purpose: string;
  readAt: number;
  recordedAt: number;
  pos: string;
  readerName?: string | null;
  readerHospital?: string | null;
}

export interface ProposalInfo {
  id: string;
  action: 'add' | 'remove';
  role: 'admin' | 'validator' | 'observer';
  subject: string;
  proposer: string;
  reason: string | null;
  createdAt: number;
  status: 'open' | 'applied' | 'failed';
  approvals: string[];
  decidedAt: number | null;
  failure: string | null;
  votes?: { proposal: string; admin: string; at: number; height: number }[];
}

export interface MembersInfo {
  members: { node: string; role: 'validator' | 'observer'; since: number }[];
  admins: { key: string; since: number }[];
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
export interface DoctorPatientInfo {
  patient: string;
  /** PENDING_REPORT and/or CONSENT. */
  reasons: string[];
  reports: number;
}

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
