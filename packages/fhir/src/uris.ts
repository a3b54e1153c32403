/**
 * The URIs this project names its identifiers, code systems and extensions with. Every exported
 * resource carries an identifier under one of them whose value is on chain (a transaction hash,
 * an account key, a hospital id), so an export can be checked back against the chain.
 */
export const SYSTEM = {
  /** Transaction hash (hex): the id of a record, prescription or audit event on chain. */
  tx: 'urn:ehr-ledger:tx',
  /** SHA-256 (hex) of the sealed body as the chain stores it. */
  payload: 'urn:ehr-ledger:payload-sha256',
  /** An account's Ed25519 public key (hex): patient, doctor. */
  account: 'urn:ehr-ledger:account',
  /** A hospital's id (slug). */
  hospital: 'urn:ehr-ledger:hospital',
  /** A hospital's encryption public key (hex). */
  hospitalKey: 'urn:ehr-ledger:hospital-encryption-key',
  /** A node's public key (hex): the serving node of an audited read. */
  node: 'urn:ehr-ledger:node',
  /** A consent on chain: `<patient key>/<hospital id>`. */
  consent: 'urn:ehr-ledger:consent',
  /** Code system: what kind of record (report, document, prescription). */
  recordKind: 'urn:ehr-ledger:record-kind',
  /** Code system: a hospital's specialization slug. */
  specialization: 'urn:ehr-ledger:specialization',
} as const;

export const EXTENSION = {
  /** A report's status on chain: pending or prescribed (valueCode). */
  reportStatus: 'urn:ehr-ledger:extension:report-status',
  /** The patient's whole sealed profile as JSON (valueString), so nothing in it is lost. */
  profile: 'urn:ehr-ledger:extension:profile',
} as const;

export const SNOMED = 'http://snomed.info/sct';
