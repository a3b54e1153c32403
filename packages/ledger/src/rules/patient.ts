/**
 * Patient rules: sign up, submit health reports and documents (sealed bodies by hash, data keys
 * wrapped for the patient and the chosen hospitals), grant and revoke consent.
 */
import { RejectCode, reject } from '../codes.ts';
import { keys } from '../keys.ts';
import type { Payloads } from '../kinds.ts';
import { type Consent, getEntity, type HealthRecord, type Patient } from '../model.ts';
import { registerPayload } from '../payloads.ts';
import { requireRole, roleOf } from '../roles.ts';
import type { RuleCtx } from '../rule-context.ts';
import { short } from '../words.ts';
import { loadActiveHospital, loadHospital } from './registry.ts';

export async function patientRegister(
  ctx: RuleCtx,
  p: Payloads['patient.register'],
): Promise<void> {
  const existing = await roleOf(ctx.state, ctx.author);
  if (existing !== null) {
    reject(
      RejectCode.ALREADY_EXISTS,
      `key ${short(ctx.author)} is already registered as ${existing}`,
      {
        key: ctx.author,
        role: existing,
      },
    );
  }
  await registerPayload(
    ctx,
    { payloadHash: p.profileHash, payloadSize: p.profileSize },
    ctx.chain.limits.maxPayloadBytes,
    { kind: 'profile', patient: ctx.author, ref: ctx.author },
    'profile',
  );
  const patient: Patient = {
    key: ctx.author,
    profileHash: p.profileHash,
    profileSize: p.profileSize,
    profileKey: p.profileKey,
    registeredAt: ctx.time,
  };
  ctx.state.set(keys.patient(ctx.author), patient);
}

/** Stores data keys wrapped for hospitals; each must be a registered hospital. */
async function storeHospitalKeys(
  ctx: RuleCtx,
  record: string,
  hospitalKeys: Map<string, Uint8Array>,
): Promise<void> {
  for (const [hospital, wrapped] of hospitalKeys) {
    await loadHospital(ctx, hospital);
    ctx.state.set(keys.recordKey(record, hospital), wrapped);
  }
}

function indexRecord(ctx: RuleCtx, r: HealthRecord): void {
  ctx.state.set(keys.record(r.id), r);
  ctx.state.set(keys.idx.patientRecords(r.patient, r.pos, r.id), r.id);
  if (r.hospital !== null) ctx.state.set(keys.idx.hospitalRecords(r.hospital, r.pos, r.id), r.id);
}

export async function recordSubmit(ctx: RuleCtx, p: Payloads['record.submit']): Promise<void> {
  await requireRole(ctx, 'patient', 'record.submit');
  const h = await loadActiveHospital(ctx, p.hospital);
  if (!h.specializations.includes(p.specialization)) {
    reject(
      RejectCode.SPECIALIZATION_MISMATCH,
      `hospital "${h.id}" does not offer "${p.specialization}"; it offers ${h.specializations.join(', ')}`,
      { hospital: h.id, specialization: p.specialization },
    );
  }
  if (!p.hospitalKeys.has(p.hospital)) {
    reject(
      RejectCode.KEY_MISSING,
      `payload.hospitalKeys must include the data key wrapped for the chosen hospital "${p.hospital}"`,
      { hospital: p.hospital },
    );
  }
  await registerPayload(ctx, p, ctx.chain.limits.maxPayloadBytes, {
    kind: 'report',
    patient: ctx.author,
    ref: ctx.hash,
  });
  await storeHospitalKeys(ctx, ctx.hash, p.hospitalKeys);
  const r: HealthRecord = {
    id: ctx.hash,
    kind: 'report',
    patient: ctx.author,
    hospital: p.hospital,
    specialization: p.specialization,
    report: null,
    status: 'pending',
    payloadHash: p.payloadHash,
    payloadSize: p.payloadSize,
    patientKey: p.patientKey,
    submittedAt: ctx.time,
    pos: ctx.pos,
  };
  indexRecord(ctx, r);
  ctx.state.set(keys.idx.pending(p.hospital, p.specialization, ctx.pos, r.id), r.id);
}

/** Loads a record and checks it belongs to the author. */
async function ownRecord(ctx: RuleCtx, id: string, field: string): Promise<HealthRecord> {
  const r = await getEntity<HealthRecord>(ctx.state, keys.record(id));
  if (!r) reject(RejectCode.UNKNOWN_RECORD, `${field}: no record ${short(id)}`, { record: id });
  if (r.patient !== ctx.author) {
    reject(RejectCode.UNAUTHORIZED, `${field}: record ${short(id)} belongs to another patient`, {
      record: id,
    });
  }
  return r;
}

export async function recordAttach(ctx: RuleCtx, p: Payloads['record.attach']): Promise<void> {
  await requireRole(ctx, 'patient', 'record.attach');
  let hospital: string | null = null;
  if (p.report !== null) {
    const report = await ownRecord(ctx, p.report, 'payload.report');
    if (report.kind !== 'report') {
      reject(
        RejectCode.INVALID_STATE,
        `payload.report: ${short(p.report)} is a document, not a report`,
      );
    }
    hospital = report.hospital;
    if (hospital !== null && !p.hospitalKeys.has(hospital)) {
      reject(
        RejectCode.KEY_MISSING,
        `payload.hospitalKeys must include the data key wrapped for the report's hospital "${hospital}"`,
        { hospital },
      );
    }
  }
  await registerPayload(
    ctx,
    p,
    ctx.chain.limits.maxDocumentBytes,
    {
      kind: 'document',
      patient: ctx.author,
      ref: ctx.hash,
    },
    'document',
  );
  await storeHospitalKeys(ctx, ctx.hash, p.hospitalKeys);
  const r: HealthRecord = {
    id: ctx.hash,
    kind: 'document',
    patient: ctx.author,
    hospital,
    specialization: null,
    report: p.report,
    status: null,
    payloadHash: p.payloadHash,
    payloadSize: p.payloadSize,
    patientKey: p.patientKey,
    submittedAt: ctx.time,
    pos: ctx.pos,
  };
  indexRecord(ctx, r);
  if (p.report !== null) ctx.state.set(keys.idx.reportDocuments(p.report, ctx.pos, r.id), r.id);
}

export async function consentGrant(ctx: RuleCtx, p: Payloads['consent.grant']): Promise<void> {
  await requireRole(ctx, 'patient', 'consent.grant');
  await loadActiveHospital(ctx, p.hospital);
  if (p.expiresAt !== null && p.expiresAt <= ctx.time) {
    reject(
      RejectCode.CONSENT_EXPIRED,
      `payload.expiresAt ${new Date(p.expiresAt).toISOString()} is not after the block time ${new Date(ctx.time).toISOString()}`,
      { expiresAt: p.expiresAt, time: ctx.time },
    );
  }
  // Listed ids: the patient's own records, or the patient's own id for the profile.
  const checkOwn = async (id: string, field: string): Promise<void> => {
    if (id !== ctx.author) await ownRecord(ctx, id, field);
  };
  if (p.scope !== 'all') {
    for (const [i, id] of p.scope.entries()) await checkOwn(id, `payload.scope[${i}]`);
  }
  for (const [id, wrapped] of p.keys) {
    await checkOwn(id, `payload.keys.${id}`);
    if (p.scope !== 'all' && !p.scope.includes(id)) {
      reject(RejectCode.MALFORMED, `payload.keys.${id}: a key for a record outside payload.scope`, {
        path: `payload.keys.${id}`,
      });
    }
    ctx.state.set(keys.recordKey(id, p.hospital), wrapped);
  }
  // A listed consent must leave the hospital able to decrypt what it lists.
  if (p.scope !== 'all') {
    for (const id of p.scope) {
      if ((await ctx.state.get(keys.recordKey(id, p.hospital))) === undefined) {
        reject(
          RejectCode.KEY_MISSING,
          `payload.keys must carry the data key of ${short(id)} wrapped for "${p.hospital}"`,
          { record: id, hospital: p.hospital },
        );
      }
    }
  }
  const consent: Consent = {
    patient: ctx.author,
    hospital: p.hospital,
    scope: p.scope,
    grantedAt: ctx.time,
    expiresAt: p.expiresAt,
    revokedAt: null,
  };
  ctx.state.set(keys.consent(ctx.author, p.hospital), consent);
  ctx.state.set(keys.idx.hospitalConsents(p.hospital, ctx.author), ctx.author);
}

export async function consentRevoke(ctx: RuleCtx, p: Payloads['consent.revoke']): Promise<void> {
  await requireRole(ctx, 'patient', 'consent.revoke');
  const consent = await getEntity<Consent>(ctx.state, keys.consent(ctx.author, p.hospital));
  if (!consent) {
    reject(
      RejectCode.CONSENT_MISSING,
      `there is no consent for hospital "${p.hospital}" to revoke`,
      {
        hospital: p.hospital,
      },
    );
  }
  if (consent.revokedAt !== null) {
    reject(
      RejectCode.CONSENT_REVOKED,
      `the consent for hospital "${p.hospital}" is already revoked`,
      {
        hospital: p.hospital,
      },
    );
  }
  ctx.state.set(keys.consent(ctx.author, p.hospital), { ...consent, revokedAt: ctx.time });
}
