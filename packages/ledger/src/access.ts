/**
 * Who may read what: pure functions over state, called by the gateway before it serves health
 * data, and by the rules (a doctor may only prescribe for a report they may read).
 *
 * - A patient reads their own records, prescriptions and profile.
 * - A doctor (active, at an active hospital) reads
 *   - a *pending* report submitted to their hospital for their specialization (and the documents
 *     attached to it): the patient chose that hospital when submitting;
 *   - the prescriptions they wrote, and the report they prescribed on (with its documents),
 *     until the patient revokes consent for their hospital;
 *   - anything of a patient whose consent to the doctor's hospital is in force and covers it
 *     (scope "all", or the record, its report, or for the profile the patient's own id listed).
 * - Consent expired (block time >= expiresAt) or revoked => denied, whatever it covered.
 * - Nobody else (admins, nodes, other patients) reads health data.
 * Erased payloads are denied with ERASED even to those allowed: the body is gone.
 */
import { AccessReason, toHex } from '@ehr/core';
import { keys } from './keys.ts';
import {
  type Consent,
  type Doctor,
  getEntity,
  type HealthRecord,
  type Hospital,
  type Patient,
  type PayloadInfo,
  type Prescription,
} from './model.ts';
import { type Role, roleOf } from './roles.ts';
import type { StateReader } from './state.ts';
import { article } from './words.ts';

// Declared in @ehr/core beside the entities (clients read the reason a read was served for).
export { AccessReason } from '@ehr/core';

export type AccessTarget =
  | {
      type: 'report' | 'document';
      id: string;
      patient: string;
      payloadHash: string;
      record: HealthRecord;
    }
  | {
      type: 'prescription';
      id: string;
      patient: string;
      payloadHash: string;
      prescription: Prescription;
    }
  | { type: 'profile'; id: string; patient: string; payloadHash: string; profile: Patient };

export type AccessDecision = {
  allowed: boolean;
  reason: AccessReason;
  /** What was decided and, when denied, what would change it. */
  message: string;
  target: AccessTarget | null;
  /** Who the data key to serve is wrapped for: 'patient' or a hospital id. */
  keyHolder: string | null;
  /** The wrapped data key to serve with the body; null if none was wrapped for that holder. */
  wrappedKey: Uint8Array | null;
};

/** Finds a record, prescription or patient profile by id. */
export async function resolveTarget(state: StateReader, id: string): Promise<AccessTarget | null> {
  const record = await getEntity<HealthRecord>(state, keys.record(id));
  if (record) {
    return {
      type: record.kind,
      id,
      patient: record.patient,
      payloadHash: toHex(record.payloadHash),
      record,
    };
  }
  const prescription = await getEntity<Prescription>(state, keys.prescription(id));
  if (prescription) {
    return {
      type: 'prescription',
      id,
      patient: prescription.patient,
      payloadHash: toHex(prescription.payloadHash),
      prescription,
    };
  }
  const profile = await getEntity<Patient>(state, keys.patient(id));
  if (profile) {
    return { type: 'profile', id, patient: id, payloadHash: toHex(profile.profileHash), profile };
  }
  return null;
}

export type ConsentCheck =
  | { ok: true; consent: Consent }
  | {
      ok: false;
      reason: 'CONSENT_MISSING' | 'CONSENT_EXPIRED' | 'CONSENT_REVOKED';
      message: string;
    };

/** Is a consent in force at `now` (ms): not revoked, not expired (`now >= expiresAt`)? */
export function consentInForce(consent: Consent, now: number): boolean {
  return consent.revokedAt === null && (consent.expiresAt === null || now < consent.expiresAt);
}

/**
 * Does a consent's scope cover one of `ids` (the item and what covers it: its report; the
 * patient's own id stands for the profile only, never for the records)?
 */
export function consentCovers(consent: Consent, ids: readonly string[]): boolean {
  return consent.scope === 'all' || ids.some((id) => consent.scope.includes(id));
}

/** Is a consent from `patient` to `hospital` in force at `now`, covering one of `ids`? */
export async function checkConsent(
  state: StateReader,
  patient: string,
  hospital: string,
  now: number,
  ids: readonly string[],
): Promise<ConsentCheck> {
  const consent = await getEntity<Consent>(state, keys.consent(patient, hospital));
  if (!consent) {
    return {
      ok: false,
      reason: 'CONSENT_MISSING',
      message: `the patient has not shared with hospital "${hospital}"`,
    };
  }
  if (consent.revokedAt !== null) {
    return {
      ok: false,
      reason: 'CONSENT_REVOKED',
      message: `the patient revoked consent for hospital "${hospital}"`,
    };
  }
  if (consent.expiresAt !== null && now >= consent.expiresAt) {
    return {
      ok: false,
      reason: 'CONSENT_EXPIRED',
      message: `consent for hospital "${hospital}" expired at ${new Date(consent.expiresAt).toISOString()}`,
    };
  }
  if (!consentCovers(consent, ids)) {
    return {
      ok: false,
      reason: 'CONSENT_MISSING',
      message: `the consent for hospital "${hospital}" does not cover this record`,
    };
  }
  return { ok: true, consent };
}

function deny(
  reason: AccessReason,
  message: string,
  target: AccessTarget | null = null,
): AccessDecision {
  return { allowed: false, reason, message, target, keyHolder: null, wrappedKey: null };
}

async function allow(
  state: StateReader,
  reason: AccessReason,
  message: string,
  target: AccessTarget,
  keyHolder: string,
  wrappedKey: Uint8Array | null,
): Promise<AccessDecision> {
  const info = await getEntity<PayloadInfo>(state, keys.payload(target.payloadHash));
  if (info?.erased) {
    return deny(
      AccessReason.ERASED,
      `the payload of ${target.type} ${target.id.slice(0, 12)}… was erased`,
      target,
    );
  }
  return { allowed: true, reason, message, target, keyHolder, wrappedKey };
}

async function hospitalKey(
  state: StateReader,
  id: string,
  hospital: string,
): Promise<Uint8Array | null> {
  const v = await state.get(keys.recordKey(id, hospital));
  return v instanceof Uint8Array ? v : null;
}

/** A reader resolved once: their role and, for a doctor, the doctor and their hospital. */
export type Reader = {
  key: string;
  role: Role | null;
  doctor: Doctor | null;
  hospital: Hospital | null;
};

export async function resolveReader(
  state: StateReader,
  reader: Uint8Array | string,
): Promise<Reader> {
  const key = typeof reader === 'string' ? reader.toLowerCase() : toHex(reader);
  const role = await roleOf(state, key);
  const doctor =
    role === 'doctor' ? ((await getEntity<Doctor>(state, keys.doctor(key))) ?? null) : null;
  const hospital = doctor
    ? ((await getEntity<Hospital>(state, keys.hospital(doctor.hospital))) ?? null)
    : null;
  return { key, role, doctor, hospital };
}

/**
 * May `reader` read the record, prescription or profile `id` at time `now` (ms)? Returns the
 * decision, a reason code, and the wrapped key to serve.
 */
export async function canRead(
  state: StateReader,
  reader: Uint8Array | string,
  id: string,
  now: number,
): Promise<AccessDecision> {
  return canReaderRead(state, await resolveReader(state, reader), id, now);
}

/**
 * canRead for a reader resolved once: lists decide many items for one reader with it. A list that
 * serves no keys passes `withKey: false`: the decision is the same, `wrappedKey` is then null
 * without being looked up (one state read less per item).
 */
export async function canReaderRead(
  state: StateReader,
  reader: Reader,
  id: string,
  now: number,
  o: { withKey?: boolean } = {},
): Promise<AccessDecision> {
  const d = await decide(state, reader, id, now, o.withKey !== false);
  return o.withKey === false && d.wrappedKey !== null ? { ...d, wrappedKey: null } : d;
}

async function decide(
  state: StateReader,
  reader: Reader,
  id: string,
  now: number,
  withKey: boolean,
): Promise<AccessDecision> {
  const who = reader.key;
  const keyFor = async (rid: string, hospital: string) =>
    withKey ? hospitalKey(state, rid, hospital) : null;
  const target = await resolveTarget(state, id);
  if (!target)
    return deny(
      AccessReason.UNKNOWN_RECORD,
      `no record, prescription or patient ${id.slice(0, 12)}…`,
    );

  if (who === target.patient) {
    const key =
      target.type === 'prescription'
        ? target.prescription.patientKey
        : target.type === 'profile'
          ? target.profile.profileKey
          : target.record.patientKey;
    return allow(
      state,
      AccessReason.PATIENT_OWN,
      'the patient reads their own data',
      target,
      'patient',
      key,
    );
  }

  const role = reader.role;
  if (role === null)
    return deny(AccessReason.UNKNOWN_ACCOUNT, `reader ${who.slice(0, 12)}… has no account`, target);
  if (role !== 'doctor') {
    return deny(
      AccessReason.UNAUTHORIZED,
      `${article(role)} ${role} may not read another patient's health data`,
      target,
    );
  }
  const doctor = reader.doctor!;
  if (!doctor.active) return deny(AccessReason.INACTIVE, 'the doctor has been deactivated', target);
  if (!reader.hospital?.active) {
    return deny(
      AccessReason.INACTIVE,
      `hospital "${doctor.hospital}" has been deactivated`,
      target,
    );
  }
  const at = doctor.hospital;

  let covering: string[];
  if (target.type === 'prescription') {
    const p = target.prescription;
    if (p.doctor === who) {
      return allow(
        state,
        AccessReason.PRESCRIBER,
        'the doctor wrote this prescription',
        target,
        p.hospital,
        p.hospitalKey,
      );
    }
    if (p.hospital !== at) {
      return deny(
        AccessReason.UNAUTHORIZED,
        `the prescription is sealed for hospital "${p.hospital}" only`,
        target,
      );
    }
    covering = [p.id, p.record];
  } else if (target.type === 'profile') {
    covering = [target.id];
  } else {
    const r = target.record;
    const report =
      r.kind === 'report'
        ? r
        : r.report
          ? await getEntity<HealthRecord>(state, keys.record(r.report))
          : undefined;
    if (
      report &&
      report.status === 'pending' &&
      report.hospital === at &&
      report.specialization === doctor.specialization
    ) {
      return allow(
        state,
        AccessReason.PENDING_REPORT,
        `pending ${report.specialization} report submitted to "${at}"`,
        target,
        at,
        await keyFor(r.id, at),
      );
    }
    if (
      report &&
      report.hospital === at &&
      (await state.get(keys.prescriber(report.id, who))) !== undefined
    ) {
      const consent = await getEntity<Consent>(state, keys.consent(target.patient, at));
      if (consent?.revokedAt == null) {
        return allow(
          state,
          AccessReason.PRESCRIBER,
          `the doctor prescribed on this report at "${at}"`,
          target,
          at,
          await keyFor(r.id, at),
        );
      }
    }
    covering = r.report ? [r.id, r.report] : [r.id];
  }

  const consent = await checkConsent(state, target.patient, at, now, covering);
  if (!consent.ok) return deny(consent.reason, consent.message, target);
  const key =
    target.type === 'prescription' ? target.prescription.hospitalKey : await keyFor(target.id, at);
  return allow(state, AccessReason.CONSENT, `the patient shared with "${at}"`, target, at, key);
}
