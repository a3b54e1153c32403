/**
 * The entities the rules keep in state, as canonical Values. Account references and ids are
 * lowercase hex strings (the same text used in keys); key material and hashes are bytes. Absent
 * optional facts are null, never undefined, so every entity has one encoding.
 */
import type { Value } from '@ehr/core';
import type { StateReader } from './state.ts';

export type Limits = {
  /** Largest encoded transaction. */
  maxTxBytes: number;
  /** Largest sealed payload body of a profile, report or prescription. */
  maxPayloadBytes: number;
  /** Largest sealed document body (record.attach). */
  maxDocumentBytes: number;
  maxTxsPerBlock: number;
  /** Largest sum of encoded transaction bytes in one block (payload bodies travel apart). */
  maxBlockBytes: number;
  /** Most records a consent may list, and most wrapped keys one transaction may carry. */
  maxListItems: number;
  /** Largest wrapped data key. */
  maxWrappedKeyBytes: number;
};

export type Threshold = number | 'majority';

/** Chain-wide configuration written at genesis under keys.chain(). */
export type ChainConfig = {
  chainId: string;
  /** SHA-256 of the canonical encoding of the genesis document. */
  genesisHash: Uint8Array;
  threshold: Threshold;
  limits: Limits;
};

export type Head = { height: number; time: number };

/** Written for every transaction that consumed a nonce; code null = applied. */
export type TxEntry = { height: number; index: number; kind: string; code: string | null };

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
   * encryptionKey)` in @ehr/core; the X25519 key is derived from it). The hospital's nodes hold
   * the secret and serve doctors after canRead allows them.
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
  /** Data key wrapped for the patient. Keys for hospitals live under keys.recordKey. */
  patientKey: Uint8Array;
  submittedAt: number;
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

export type PayloadKind = 'profile' | 'report' | 'document' | 'prescription';

export type PayloadInfo = {
  hash: string;
  size: number;
  kind: PayloadKind;
  /** The data subject: the patient the payload is about. */
  patient: string;
  /** Id of the entity that carries it (record, prescription, or the patient for a profile). */
  ref: string;
  erased: boolean;
  erasedAt: number | null;
  erasedBy: string | null;
  legalOrder: string | null;
};

/** Reads an entity written by these rules (values are trusted: only the rules write them). */
export async function getEntity<T>(state: StateReader, key: string): Promise<T | undefined> {
  const v: Value | undefined = await state.get(key);
  return v === undefined ? undefined : (v as unknown as T);
}
