/**
 * The domain entities, declared once: the ledger keeps them in state (as canonical Values: key
 * material and hashes are bytes), the gateway serves them as JSON, where every byte field is
 * lowercase hex (`JsonOf<T>`). Account references and ids are lowercase hex strings in both.
 * Absent optional facts are null, never undefined, so every entity has one encoding.
 */

/** A value as JSON carries it: bytes become lowercase hex strings, the rest is kept. */
export type JsonOf<T> = T extends Uint8Array
  ? string
  : T extends readonly (infer U)[]
    ? JsonOf<U>[]
    : T extends object
      ? { [K in keyof T]: JsonOf<T[K]> }
      : T;

export type Admin = { key: string; since: number };

export type MemberRole = 'validator' | 'observer';
export type Member = { node: string; role: MemberRole; since: number };

export type Hospital = {
  id: string;
  name: string;
  address: string;
  specializations: string[];
  contact: string;
  /** Node public keys (hex) that serve this hospital. */
  nodes: string[];
  /**
   * Ed25519 public key data keys are wrapped to for this hospital (`wrapDataKey(dataKey,
   * encryptionKey)`; the X25519 key is derived from it). The hospital's nodes hold the secret
   * and serve doctors after the access rules allow them.
   */
  encryptionKey: Uint8Array;
  active: boolean;
  registeredAt: number;
  updatedAt: number;
};

export type Doctor = {
  key: string;
  hospital: string;
  name: string;
  specialization: string;
  qualification: string;
  /** Years of experience. */
  experience: number;
  contact: string;
  active: boolean;
  registeredAt: number;
};

export type Patient = {
  key: string;
  /** Sealed profile (health data): hash, size and the data key wrapped for the patient. */
  profileHash: Uint8Array;
  profileSize: number;
  profileKey: Uint8Array;
  registeredAt: number;
};

export type ReportStatus = 'pending' | 'prescribed';

export type HealthRecord = {
  id: string;
  kind: 'report' | 'document';
  patient: string;
  /** Report: the hospital chosen. Document: the hospital of the report it is attached to. */
  hospital: string | null;
  /** Report only: the specialization it needs (public metadata). */
  specialization: string | null;
  /** Document only: the report it is attached to. */
  report: string | null;
  /** Report only. */
  status: ReportStatus | null;
  payloadHash: Uint8Array;
  payloadSize: number;
  /** Data key wrapped for the patient. Keys for hospitals are kept apart, per hospital. */
  patientKey: Uint8Array;
  submittedAt: number;
  /** Position on chain, `<height:12>-<index:6>` (ordering cursor). */
  pos: string;
};

export type Prescription = {
  id: string;
  record: string;
  patient: string;
  doctor: string;
  /** The prescribing doctor's name at the time, shown to the patient. */
  doctorName: string;
  hospital: string;
  payloadHash: Uint8Array;
  payloadSize: number;
  patientKey: Uint8Array;
  hospitalKey: Uint8Array;
  writtenAt: number;
  pos: string;
};

/**
 * What a consent covers: everything the patient has ("all"), or listed ids: records (a report
 * covers its documents) and the patient's own id, which stands for the profile only.
 */
export type ConsentScope = 'all' | string[];

export type Consent = {
  patient: string;
  hospital: string;
  scope: ConsentScope;
  grantedAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
};

export type GovernanceAction = 'add' | 'remove';
export type GovernanceRole = 'admin' | 'validator' | 'observer';

export type Proposal = {
  id: string;
  action: GovernanceAction;
  role: GovernanceRole;
  subject: string;
  proposer: string;
  reason: string | null;
  createdAt: number;
  status: 'open' | 'applied' | 'failed';
  /** Admins (hex) who approved, in vote order; the proposer's proposal is their approval. */
  approvals: string[];
  decidedAt: number | null;
  /** Why an approved proposal could not apply (e.g. the subject became an admin meanwhile). */
  failure: string | null;
};

export type Vote = { proposal: string; admin: string; at: number; height: number };

export type AuditEvent = {
  id: string;
  /** The serving node that signed the event. */
  node: string;
  reader: string;
  /** Record, prescription or patient (profile) id that was read. */
  target: string;
  patient: string;
  purpose: string;
  /** The serving node's clock when it served the read. */
  readAt: number;
  /** Block time when the event was recorded. */
  recordedAt: number;
  pos: string;
};

/** Why the access rules allowed or denied a read (the ledger's canRead decides). */
export const AccessReason = {
  PATIENT_OWN: 'PATIENT_OWN',
  PENDING_REPORT: 'PENDING_REPORT',
  PRESCRIBER: 'PRESCRIBER',
  CONSENT: 'CONSENT',
  UNKNOWN_RECORD: 'UNKNOWN_RECORD',
  UNKNOWN_ACCOUNT: 'UNKNOWN_ACCOUNT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  INACTIVE: 'INACTIVE',
  CONSENT_MISSING: 'CONSENT_MISSING',
  CONSENT_EXPIRED: 'CONSENT_EXPIRED',
  CONSENT_REVOKED: 'CONSENT_REVOKED',
  ERASED: 'ERASED',
} as const;
export type AccessReason = (typeof AccessReason)[keyof typeof AccessReason];

/** The reasons a doctor may read a report for (what the doctor's lists carry). */
export type DoctorAccess = 'PENDING_REPORT' | 'PRESCRIBER' | 'CONSENT';

/** A report a doctor may open, with the access rule that lets them. */
export type DoctorReport = HealthRecord & { access: DoctorAccess };

/** A patient a doctor may read something of: why, and how many of their reports. */
export type DoctorPatient = { patient: string; reasons: DoctorAccess[]; reports: number };

/** A consent with whether it is in force at the time of asking. */
export type ConsentStatus = Consent & { inForce: boolean };
