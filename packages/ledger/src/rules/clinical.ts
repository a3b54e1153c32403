/**
 * Doctor, node and erasure rules: prescriptions, access audit events, payload erasure.
 *
 * Erasure policy: the data subject (the patient a payload is about) may erase any payload about
 * them - profile, reports, documents, prescriptions. An admin may erase any payload, but only
 * citing a legal order (`legalOrder`, kept on chain). Erasure deletes the body from every
 * store; the payload hash, its size and every transaction stay, so all hashes still verify.
 */
import { isPurposeCode, PURPOSE_CODES, toHex } from '@ehr/core';
import { AccessReason, canRead, resolveTarget } from '../access.ts';
import { RejectCode, reject } from '../codes.ts';
import { keys } from '../keys.ts';
import type { Payloads } from '../kinds.ts';
import {
  type AuditEvent,
  type Doctor,
  getEntity,
  type HealthRecord,
  type PayloadInfo,
  type Prescription,
} from '../model.ts';
import { registerPayload } from '../payloads.ts';
import { memberRole, requireRole, roleOf } from '../roles.ts';
import type { RuleCtx } from '../rule-context.ts';
import { short } from '../words.ts';

export async function prescriptionWrite(
  ctx: RuleCtx,
  p: Payloads['prescription.write'],
): Promise<void> {
  await requireRole(ctx, 'doctor', 'prescription.write');
  const report = await getEntity<HealthRecord>(ctx.state, keys.record(p.record));
  if (!report) reject(RejectCode.UNKNOWN_RECORD, `payload.record: no record ${short(p.record)}`);
  if (report.kind !== 'report') {
    reject(
      RejectCode.INVALID_STATE,
      `payload.record: ${short(p.record)} is a document; prescribe for a report`,
    );
  }
  const access = await canRead(ctx.state, ctx.author, p.record, ctx.time);
  if (!access.allowed) {
    const code =
      access.reason === AccessReason.CONSENT_MISSING ||
      access.reason === AccessReason.CONSENT_EXPIRED ||
      access.reason === AccessReason.CONSENT_REVOKED ||
      access.reason === AccessReason.INACTIVE
        ? access.reason
        : access.reason === AccessReason.ERASED
          ? RejectCode.INVALID_STATE
          : RejectCode.UNAUTHORIZED;
    reject(code, `the doctor may not read report ${short(p.record)}: ${access.message}`, {
      record: p.record,
      reason: access.reason,
    });
  }
  const doctor = (await getEntity<Doctor>(ctx.state, keys.doctor(ctx.author)))!;
  await registerPayload(ctx, p, ctx.chain.limits.maxPayloadBytes, {
    kind: 'prescription',
    patient: report.patient,
    ref: ctx.hash,
  });
  const prescription: Prescription = {
    id: ctx.hash,
    record: p.record,
    patient: report.patient,
    doctor: ctx.author,
    doctorName: doctor.name,
    hospital: doctor.hospital,
    payloadHash: p.payloadHash,
    payloadSize: p.payloadSize,
    patientKey: p.patientKey,
    hospitalKey: p.hospitalKey,
    writtenAt: ctx.time,
    pos: ctx.pos,
  };
  ctx.state.set(keys.prescription(ctx.hash), prescription);
  ctx.state.set(keys.idx.recordPrescriptions(p.record, ctx.pos, ctx.hash), ctx.hash);
  ctx.state.set(keys.idx.patientPrescriptions(report.patient, ctx.pos, ctx.hash), ctx.hash);
  ctx.state.set(keys.idx.doctorRecords(ctx.author, ctx.pos, p.record), p.record);
  if (!ctx.legacy) ctx.state.set(keys.prescriber(p.record, ctx.author), ctx.hash);
  if (report.status === 'pending') {
    ctx.state.set(keys.record(p.record), { ...report, status: 'prescribed' });
    ctx.state.delete(
      keys.idx.pending(report.hospital!, report.specialization!, report.pos, report.id),
    );
  }
}

export async function accessRecord(ctx: RuleCtx, p: Payloads['access.record']): Promise<void> {
  if ((await memberRole(ctx.state, ctx.author)) === null) {
    reject(
      RejectCode.UNAUTHORIZED,
      `access.record must be signed by a member node; ${short(ctx.author)} is not a validator or observer`,
      { author: ctx.author },
    );
  }
  const target = await resolveTarget(ctx.state, p.target);
  if (!target)
    reject(
      RejectCode.UNKNOWN_RECORD,
      `payload.target: no record, prescription or patient ${short(p.target)}`,
    );
  if ((await roleOf(ctx.state, p.reader)) === null) {
    reject(RejectCode.UNKNOWN_ACCOUNT, `payload.reader: ${short(p.reader)} has no account`, {
      reader: p.reader,
    });
  }
  if (!ctx.legacy && !isPurposeCode(p.purpose)) {
    reject(
      RejectCode.MALFORMED,
      `payload.purpose: expected a PurposeOfUse code (${PURPOSE_CODES.join(', ')}), not free text`,
      { purpose: p.purpose.slice(0, 40) },
    );
  }
  const event: AuditEvent = {
    id: ctx.hash,
    node: ctx.author,
    reader: p.reader,
    target: p.target,
    patient: target.patient,
    purpose: p.purpose,
    readAt: p.readAt,
    recordedAt: ctx.time,
    pos: ctx.pos,
  };
  ctx.state.set(keys.audit(ctx.hash), event);
  ctx.state.set(keys.idx.patientAudit(target.patient, ctx.pos, ctx.hash), ctx.hash);
  ctx.state.set(keys.idx.readerAudit(p.reader, ctx.pos, ctx.hash), ctx.hash);
}

export async function payloadErase(ctx: RuleCtx, p: Payloads['payload.erase']): Promise<void> {
  const hash = toHex(p.payloadHash);
  const info = await getEntity<PayloadInfo>(ctx.state, keys.payload(hash));
  if (!info)
    reject(RejectCode.UNKNOWN_PAYLOAD, `payload.payloadHash: no payload ${short(hash)} on chain`, {
      hash,
    });
  const role = await roleOf(ctx.state, ctx.author);
  if (ctx.author !== info.patient) {
    if (role === null) {
      reject(RejectCode.UNKNOWN_ACCOUNT, `author ${short(ctx.author)} has no account`);
    }
    if (role !== 'admin') {
      reject(
        RejectCode.UNAUTHORIZED,
        'only the patient the payload is about, or an admin citing a legal order, may erase it',
        { hash },
      );
    }
    if (p.legalOrder === null) {
      reject(
        RejectCode.UNAUTHORIZED,
        'an admin must cite the legal order (payload.legalOrder) to erase a payload',
        {
          hash,
        },
      );
    }
  }
  if (info.erased)
    reject(RejectCode.INVALID_STATE, `payload ${short(hash)} is already erased`, { hash });
  const erased: PayloadInfo = {
    ...info,
    erased: true,
    erasedAt: ctx.time,
    erasedBy: ctx.author,
    legalOrder: p.legalOrder,
  };
  ctx.state.set(keys.payload(hash), erased);
  ctx.effects.payloadsErased.push(hash);
}
