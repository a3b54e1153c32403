/**
 * The entities the rules keep in state, as canonical Values. Account references and ids are
 * lowercase hex strings (the same text used in keys); key material and hashes are bytes. Absent
 * optional facts are null, never undefined, so every entity has one encoding. Those clients are
 * served (hospitals, doctors, records, consents...) are declared in @ehr/core and re-exported
 * here; what only the rules and the node see (chain config, receipts, payload info) is here.
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

/** The last executed block as the state records it (height and time): what the next must follow. */
export type StateHead = { height: number; time: number };

/** Written for every transaction that consumed a nonce; code null = applied. */
export type TxEntry = { height: number; index: number; kind: string; code: string | null };

// The entities also served to clients are declared once, in @ehr/core (entities.ts).
export type {
  Admin,
  AuditEvent,
  Consent,
  ConsentScope,
  Doctor,
  GovernanceAction,
  GovernanceRole,
  HealthRecord,
  Hospital,
  Member,
  MemberRole,
  Patient,
  Prescription,
  Proposal,
  ReportStatus,
  Vote,
} from '@ehr/core';

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
