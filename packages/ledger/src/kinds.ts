/**
 * Transaction kinds and their payload schemas. `parsePayload` shape-checks a payload and returns
 * it typed; every failure is a MALFORMED rejection that names the field. Health data never
 * appears here: sealed bodies are referenced by `payloadHash` + `payloadSize`, and the data keys
 * travel wrapped (`patientKey`, `hospitalKeys`, `keys`) for the readers they are meant for.
 */
import type { Value, ValueMap } from '@ehr/core';
import { RejectCode, reject } from './codes.ts';
import {
  bytes,
  dict,
  fields,
  hexId,
  hexIdKey,
  int,
  list,
  map,
  oneOf,
  publicKey,
  slug,
  slugKey,
  text,
} from './fields.ts';
import type { ConsentScope, GovernanceAction, GovernanceRole, Limits } from './model.ts';

export const TxKind = {
  HOSPITAL_REGISTER: 'hospital.register',
  HOSPITAL_UPDATE: 'hospital.update',
  HOSPITAL_DEACTIVATE: 'hospital.deactivate',
  DOCTOR_REGISTER: 'doctor.register',
  DOCTOR_DEACTIVATE: 'doctor.deactivate',
  GOVERNANCE_PROPOSE: 'governance.propose',
  GOVERNANCE_APPROVE: 'governance.approve',
  PATIENT_REGISTER: 'patient.register',
  RECORD_SUBMIT: 'record.submit',
  RECORD_ATTACH: 'record.attach',
  CONSENT_GRANT: 'consent.grant',
  CONSENT_REVOKE: 'consent.revoke',
  PRESCRIPTION_WRITE: 'prescription.write',
  ACCESS_RECORD: 'access.record',
  PAYLOAD_ERASE: 'payload.erase',
} as const;
export type TxKind = (typeof TxKind)[keyof typeof TxKind];
export const TX_KINDS: readonly TxKind[] = Object.values(TxKind);

export const MAX_NAME = 200;
export const MAX_TEXT = 500;
export const MAX_SPECIALIZATIONS = 64;
export const MAX_NODES = 16;
export const MAX_EXPERIENCE_YEARS = 100;

export type HospitalFields = {
  name: string;
  address: string;
  specializations: string[];
  contact: string;
  nodes: string[];
  encryptionKey: Uint8Array;
};

/** A sealed body by reference. */
export type SealedRef = { payloadHash: Uint8Array; payloadSize: number };

export type Payloads = {
  'hospital.register': { id: string } & HospitalFields;
  'hospital.update': { id: string } & Partial<HospitalFields>;
  'hospital.deactivate': { id: string };
  'doctor.register': {
    doctor: string;
    hospital: string;
    name: string;
    specialization: string;
    qualification: string;
    experience: number;
    contact: string;
  };
  'doctor.deactivate': { doctor: string };
  'governance.propose': {
    action: GovernanceAction;
    role: GovernanceRole;
    subject: string;
    reason: string | null;
  };
  'governance.approve': { proposal: string };
  'patient.register': { profileHash: Uint8Array; profileSize: number; profileKey: Uint8Array };
  'record.submit': SealedRef & {
    hospital: string;
    specialization: string;
    patientKey: Uint8Array;
    /** Data key wrapped per hospital id; must include the chosen hospital. */
    hospitalKeys: Map<string, Uint8Array>;
  };
  'record.attach': SealedRef & {
    report: string | null;
    patientKey: Uint8Array;
    hospitalKeys: Map<string, Uint8Array>;
  };
  'consent.grant': {
    hospital: string;
    scope: ConsentScope;
    expiresAt: number | null;
    /** Data keys of the patient's records wrapped for this hospital, by record id. */
    keys: Map<string, Uint8Array>;
  };
  'consent.revoke': { hospital: string };
  'prescription.write': SealedRef & {
    record: string;
    patientKey: Uint8Array;
    hospitalKey: Uint8Array;
  };
  'access.record': { reader: string; target: string; purpose: string; readAt: number };
  'payload.erase': { payloadHash: Uint8Array; legalOrder: string | null };
};

type Parser<K extends TxKind> = (m: ValueMap, l: Limits) => Payloads[K];

const P = 'payload';
const MAX_SIZE = Number.MAX_SAFE_INTEGER;
/** Largest time a JS Date can show (ms): times beyond it could not be reported in messages. */
export const MAX_TIME = 8_640_000_000_000_000;

const hospitalFieldParsers = {
  name: (v: Value | undefined) => text(v, `${P}.name`, 1, MAX_NAME),
  address: (v: Value | undefined) => text(v, `${P}.address`, 0, MAX_TEXT),
  specializations: (v: Value | undefined) =>
    list(v, `${P}.specializations`, 1, MAX_SPECIALIZATIONS, slug),
  contact: (v: Value | undefined) => text(v, `${P}.contact`, 0, MAX_NAME),
  nodes: (v: Value | undefined) => list(v, `${P}.nodes`, 0, MAX_NODES, publicKey),
  encryptionKey: (v: Value | undefined) => bytes(v, `${P}.encryptionKey`, 32, 32),
};
const HOSPITAL_FIELDS = Object.keys(hospitalFieldParsers) as (keyof HospitalFields)[];

const wrapped = (l: Limits) => (v: Value | undefined, p: string) =>
  bytes(v, p, 1, l.maxWrappedKeyBytes);

function sealed(m: ValueMap): SealedRef {
  return {
    payloadHash: bytes(m['payloadHash'], `${P}.payloadHash`, 32, 32),
    payloadSize: int(m['payloadSize'], `${P}.payloadSize`, 1, MAX_SIZE),
  };
}

const parsers: { [K in TxKind]: Parser<K> } = {
  'hospital.register': (m) => {
    fields(m, P, ['id', ...HOSPITAL_FIELDS]);
    return {
      id: slug(m['id'], `${P}.id`),
      name: hospitalFieldParsers.name(m['name']),
      address: hospitalFieldParsers.address(m['address']),
      specializations: hospitalFieldParsers.specializations(m['specializations']),
      contact: hospitalFieldParsers.contact(m['contact']),
      nodes: hospitalFieldParsers.nodes(m['nodes']),
      encryptionKey: hospitalFieldParsers.encryptionKey(m['encryptionKey']),
    };
  },
  'hospital.update': (m) => {
    fields(m, P, ['id'], HOSPITAL_FIELDS);
    const out: Payloads['hospital.update'] = { id: slug(m['id'], `${P}.id`) };
    let changed = 0;
    for (const f of HOSPITAL_FIELDS) {
      if (m[f] === undefined) continue;
      // Each parser returns the type of its own field.
      (out as Record<string, unknown>)[f] = hospitalFieldParsers[f](m[f]);
      changed++;
    }
    if (changed === 0) {
      reject(
        RejectCode.MALFORMED,
        `${P}: name at least one field to change (${HOSPITAL_FIELDS.join(', ')})`,
      );
    }
    return out;
  },
  'hospital.deactivate': (m) => {
    fields(m, P, ['id']);
    return { id: slug(m['id'], `${P}.id`) };
  },
  'doctor.register': (m) => {
    fields(m, P, [
      'doctor',
      'hospital',
      'name',
      'specialization',
      'qualification',
      'experience',
      'contact',
    ]);
    return {
      doctor: publicKey(m['doctor'], `${P}.doctor`),
      hospital: slug(m['hospital'], `${P}.hospital`),
      name: text(m['name'], `${P}.name`, 1, MAX_NAME),
      specialization: slug(m['specialization'], `${P}.specialization`),
      qualification: text(m['qualification'], `${P}.qualification`, 0, MAX_NAME),
      experience: int(m['experience'], `${P}.experience`, 0, MAX_EXPERIENCE_YEARS),
      contact: text(m['contact'], `${P}.contact`, 0, MAX_NAME),
    };
  },
  'doctor.deactivate': (m) => {
    fields(m, P, ['doctor']);
    return { doctor: publicKey(m['doctor'], `${P}.doctor`) };
  },
  'governance.propose': (m) => {
    fields(m, P, ['action', 'role', 'subject'], ['reason']);
    return {
      action: oneOf(m['action'], `${P}.action`, ['add', 'remove'] as const),
      role: oneOf(m['role'], `${P}.role`, ['admin', 'validator', 'observer'] as const),
      subject: publicKey(m['subject'], `${P}.subject`),
      reason: m['reason'] === undefined ? null : text(m['reason'], `${P}.reason`, 1, MAX_TEXT),
    };
  },
  'governance.approve': (m) => {
    fields(m, P, ['proposal']);
    return { proposal: hexId(m['proposal'], `${P}.proposal`) };
  },
  'patient.register': (m, l) => {
    fields(m, P, ['profileHash', 'profileSize', 'profileKey']);
    return {
      profileHash: bytes(m['profileHash'], `${P}.profileHash`, 32, 32),
      profileSize: int(m['profileSize'], `${P}.profileSize`, 1, MAX_SIZE),
      profileKey: wrapped(l)(m['profileKey'], `${P}.profileKey`),
    };
  },
  'record.submit': (m, l) => {
    fields(m, P, [
      'hospital',
      'specialization',
      'payloadHash',
      'payloadSize',
      'patientKey',
      'hospitalKeys',
    ]);
    return {
      ...sealed(m),
      hospital: slug(m['hospital'], `${P}.hospital`),
      specialization: slug(m['specialization'], `${P}.specialization`),
      patientKey: wrapped(l)(m['patientKey'], `${P}.patientKey`),
      hospitalKeys: dict(
        m['hospitalKeys'],
        `${P}.hospitalKeys`,
        l.maxListItems,
        slugKey,
        wrapped(l),
      ),
    };
  },
  'record.attach': (m, l) => {
    fields(m, P, ['payloadHash', 'payloadSize', 'patientKey'], ['report', 'hospitalKeys']);
    return {
      ...sealed(m),
      report: m['report'] === undefined ? null : hexId(m['report'], `${P}.report`),
      patientKey: wrapped(l)(m['patientKey'], `${P}.patientKey`),
      hospitalKeys:
        m['hospitalKeys'] === undefined
          ? new Map()
          : dict(m['hospitalKeys'], `${P}.hospitalKeys`, l.maxListItems, slugKey, wrapped(l)),
    };
  },
  'consent.grant': (m, l) => {
    fields(m, P, ['hospital', 'scope'], ['expiresAt', 'keys']);
    const scope: ConsentScope =
      m['scope'] === 'all' ? 'all' : list(m['scope'], `${P}.scope`, 1, l.maxListItems, hexId);
    return {
      hospital: slug(m['hospital'], `${P}.hospital`),
      scope,
      expiresAt:
        m['expiresAt'] === undefined ? null : int(m['expiresAt'], `${P}.expiresAt`, 0, MAX_TIME),
      keys:
        m['keys'] === undefined
          ? new Map()
          : dict(m['keys'], `${P}.keys`, l.maxListItems, hexIdKey, wrapped(l)),
    };
  },
  'consent.revoke': (m) => {
    fields(m, P, ['hospital']);
    return { hospital: slug(m['hospital'], `${P}.hospital`) };
  },
  'prescription.write': (m, l) => {
    fields(m, P, ['record', 'payloadHash', 'payloadSize', 'patientKey', 'hospitalKey']);
    return {
      ...sealed(m),
      record: hexId(m['record'], `${P}.record`),
      patientKey: wrapped(l)(m['patientKey'], `${P}.patientKey`),
      hospitalKey: wrapped(l)(m['hospitalKey'], `${P}.hospitalKey`),
    };
  },
  'access.record': (m) => {
    fields(m, P, ['reader', 'target', 'purpose', 'readAt']);
    return {
      reader: publicKey(m['reader'], `${P}.reader`),
      target: hexId(m['target'], `${P}.target`),
      purpose: text(m['purpose'], `${P}.purpose`, 1, MAX_NAME),
      readAt: int(m['readAt'], `${P}.readAt`, 0, MAX_TIME),
    };
  },
  'payload.erase': (m) => {
    fields(m, P, ['payloadHash'], ['legalOrder']);
    return {
      payloadHash: bytes(m['payloadHash'], `${P}.payloadHash`, 32, 32),
      legalOrder:
        m['legalOrder'] === undefined
          ? null
          : text(m['legalOrder'], `${P}.legalOrder`, 1, MAX_TEXT),
    };
  },
};

export function isTxKind(kind: string): kind is TxKind {
  return Object.hasOwn(parsers, kind);
}

/** Shape-checks a payload for its kind; MALFORMED (naming the field) when it does not fit. */
export function parsePayload<K extends TxKind>(
  kind: K,
  payload: Value,
  limits: Limits,
): Payloads[K] {
  return parsers[kind](map(payload, P), limits);
}

/** Shape-checks any transaction's kind and payload. */
export function parseTxPayload(kind: string, payload: Value, limits: Limits): Payloads[TxKind] {
  if (!isTxKind(kind)) {
    reject(
      RejectCode.MALFORMED,
      `tx.kind: unknown kind "${kind}" (known: ${TX_KINDS.join(', ')})`,
      {
        path: 'tx.kind',
      },
    );
  }
  return parsePayload(kind, payload, limits);
}
