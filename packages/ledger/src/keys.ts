/**
 * State key layout. Every key is ASCII: hex for keys and hashes (lowercase), slugs for hospital
 * ids and specializations, `/` as the separator (it never occurs inside a part). Entities live
 * under `<kind>/<id>`; listings are `idx/...` keys whose prefix scans (StateScanner.scan) list
 * one patient's records, one hospital's doctors, one proposal's votes and so on. Chronological
 * listings put a position (`pos`: block height and transaction index, zero-padded) before the
 * id so a prefix scan returns them oldest first. Index values are the listed entity's id.
 */

/** Block position of a transaction: `<height:12>-<index:6>`, sorts chronologically. */
export function pos(height: number, index: number): string {
  return `${String(height).padStart(12, '0')}-${String(index).padStart(6, '0')}`;
}

export const keys = {
  /** ChainConfig from genesis (chain id, limits, governance threshold). */
  chain: (): string => 'meta/chain',
  /** { height, time } of the last applied block. */
  head: (): string => 'meta/head',
  /** Number of admins (governance thresholds are computed from it). */
  adminCount: (): string => 'meta/admin-count',
  /** Number of validators (the last one may not be removed). */
  validatorCount: (): string => 'meta/validator-count',
  /** Next nonce of an account (absent = 0). */
  nonce: (account: string): string => `nonce/${account}`,
  /** Receipt of an applied transaction: { height, index, code } (code null = success). */
  tx: (hash: string): string => `tx/${hash}`,

  admin: (key: string): string => `admin/${key}`,
  /** Node membership: { role: 'validator' | 'observer', since }. */
  member: (node: string): string => `member/${node}`,
  hospital: (id: string): string => `hospital/${id}`,
  doctor: (key: string): string => `doctor/${key}`,
  patient: (key: string): string => `patient/${key}`,
  /** Health report or document. */
  record: (id: string): string => `record/${id}`,
  /** Data key of a record wrapped for a hospital. */
  recordKey: (record: string, hospital: string): string => `key/${record}/${hospital}`,
  consent: (patient: string, hospital: string): string => `consent/${patient}/${hospital}`,
  prescription: (id: string): string => `prescription/${id}`,
  /** A doctor prescribed on this report: they keep reading it (see access.ts). */
  prescriber: (record: string, doctor: string): string => `prescriber/${record}/${doctor}`,
  proposal: (id: string): string => `proposal/${id}`,
  vote: (proposal: string, admin: string): string => `vote/${proposal}/${admin}`,
  audit: (id: string): string => `audit/${id}`,
  /** Payload metadata by content hash; survives erasure of the body. */
  payload: (hash: string): string => `payload/${hash}`,

  idx: {
    hospitalDoctors: (hospital: string, doctor: string): string =>
      `idx/hospital-doctors/${hospital}/${doctor}`,
    patientRecords: (patient: string, p: string, record: string): string =>
      `idx/patient-records/${patient}/${p}/${record}`,
    hospitalRecords: (hospital: string, p: string, record: string): string =>
      `idx/hospital-records/${hospital}/${p}/${record}`,
    /** Reports waiting for a doctor of this specialization at this hospital. */
    pending: (hospital: string, specialization: string, p: string, record: string): string =>
      `idx/pending/${hospital}/${specialization}/${p}/${record}`,
    /** Reports a doctor has prescribed for. */
    doctorRecords: (doctor: string, p: string, record: string): string =>
      `idx/doctor-records/${doctor}/${p}/${record}`,
    reportDocuments: (report: string, p: string, document: string): string =>
      `idx/report-documents/${report}/${p}/${document}`,
    recordPrescriptions: (record: string, p: string, prescription: string): string =>
      `idx/record-prescriptions/${record}/${p}/${prescription}`,
    patientPrescriptions: (patient: string, p: string, prescription: string): string =>
      `idx/patient-prescriptions/${patient}/${p}/${prescription}`,
    hospitalConsents: (hospital: string, patient: string): string =>
      `idx/hospital-consents/${hospital}/${patient}`,
    patientAudit: (patient: string, p: string, event: string): string =>
      `idx/patient-audit/${patient}/${p}/${event}`,
    readerAudit: (reader: string, p: string, event: string): string =>
      `idx/reader-audit/${reader}/${p}/${event}`,
    /** Open proposal for one (action, role, subject), so the same change is not proposed twice. */
    openProposal: (action: string, role: string, subject: string): string =>
      `idx/open-proposal/${action}/${role}/${subject}`,
  },
} as const;

/** Prefixes for listings: pass to StateScanner.scan. Each ends with `/`. */
export const prefixes = {
  admins: (): string => 'admin/',
  members: (): string => 'member/',
  hospitals: (): string => 'hospital/',
  hospitalDoctors: (hospital: string): string => `idx/hospital-doctors/${hospital}/`,
  patientRecords: (patient: string): string => `idx/patient-records/${patient}/`,
  hospitalRecords: (hospital: string): string => `idx/hospital-records/${hospital}/`,
  pending: (hospital: string, specialization: string): string =>
    `idx/pending/${hospital}/${specialization}/`,
  doctorRecords: (doctor: string): string => `idx/doctor-records/${doctor}/`,
  reportDocuments: (report: string): string => `idx/report-documents/${report}/`,
  recordPrescriptions: (record: string): string => `idx/record-prescriptions/${record}/`,
  patientPrescriptions: (patient: string): string => `idx/patient-prescriptions/${patient}/`,
  recordKeys: (record: string): string => `key/${record}/`,
  patientConsents: (patient: string): string => `consent/${patient}/`,
  hospitalConsents: (hospital: string): string => `idx/hospital-consents/${hospital}/`,
  proposals: (): string => 'proposal/',
  votes: (proposal: string): string => `vote/${proposal}/`,
  patientAudit: (patient: string): string => `idx/patient-audit/${patient}/`,
  readerAudit: (reader: string): string => `idx/reader-audit/${reader}/`,
} as const;

/** The last `/`-separated part of a key (the listed id in index keys). */
export function lastPart(key: string): string {
  return key.slice(key.lastIndexOf('/') + 1);
}
