/** Admin rules for the registries: hospitals and the doctors working at them. */
import { RejectCode, reject } from '../codes.ts';
import { keys } from '../keys.ts';
import type { Payloads } from '../kinds.ts';
import { type Doctor, getEntity, type Hospital } from '../model.ts';
import { requireRole, roleOf } from '../roles.ts';
import type { RuleCtx } from '../rule-context.ts';
import { short } from '../words.ts';

export async function loadHospital(ctx: RuleCtx, id: string): Promise<Hospital> {
  const h = await getEntity<Hospital>(ctx.state, keys.hospital(id));
  if (!h) {
    reject(RejectCode.UNKNOWN_HOSPITAL, `hospital "${id}" is not registered`, { hospital: id });
  }
  return h;
}

export async function loadActiveHospital(ctx: RuleCtx, id: string): Promise<Hospital> {
  const h = await loadHospital(ctx, id);
  if (!h.active) {
    reject(RejectCode.INACTIVE, `hospital "${id}" has been deactivated`, { hospital: id });
  }
  return h;
}

export async function hospitalRegister(
  ctx: RuleCtx,
  p: Payloads['hospital.register'],
): Promise<void> {
  await requireRole(ctx, 'admin', 'hospital.register');
  if ((await ctx.state.get(keys.hospital(p.id))) !== undefined) {
    reject(RejectCode.ALREADY_EXISTS, `hospital id "${p.id}" is taken; choose another id`, {
      hospital: p.id,
    });
  }
  const h: Hospital = {
    id: p.id,
    name: p.name,
    address: p.address,
    specializations: p.specializations,
    contact: p.contact,
    nodes: p.nodes,
    encryptionKey: p.encryptionKey,
    active: true,
    registeredAt: ctx.time,
    updatedAt: ctx.time,
  };
  ctx.state.set(keys.hospital(p.id), h);
}

export async function hospitalUpdate(ctx: RuleCtx, p: Payloads['hospital.update']): Promise<void> {
  await requireRole(ctx, 'admin', 'hospital.update');
  const h = await loadActiveHospital(ctx, p.id);
  const next: Hospital = {
    ...h,
    name: p.name ?? h.name,
    address: p.address ?? h.address,
    specializations: p.specializations ?? h.specializations,
    contact: p.contact ?? h.contact,
    nodes: p.nodes ?? h.nodes,
    encryptionKey: p.encryptionKey ?? h.encryptionKey,
    updatedAt: ctx.time,
  };
  ctx.state.set(keys.hospital(p.id), next);
}

export async function hospitalDeactivate(
  ctx: RuleCtx,
  p: Payloads['hospital.deactivate'],
): Promise<void> {
  await requireRole(ctx, 'admin', 'hospital.deactivate');
  const h = await loadActiveHospital(ctx, p.id);
  ctx.state.set(keys.hospital(p.id), { ...h, active: false, updatedAt: ctx.time });
}

export async function doctorRegister(ctx: RuleCtx, p: Payloads['doctor.register']): Promise<void> {
  await requireRole(ctx, 'admin', 'doctor.register');
  const existing = await roleOf(ctx.state, p.doctor);
  if (existing !== null) {
    reject(
      RejectCode.ALREADY_EXISTS,
      `key ${short(p.doctor)} is already registered as ${existing}`,
      {
        key: p.doctor,
        role: existing,
      },
    );
  }
  const h = await loadActiveHospital(ctx, p.hospital);
  if (!h.specializations.includes(p.specialization)) {
    reject(
      RejectCode.SPECIALIZATION_MISMATCH,
      `hospital "${h.id}" does not offer "${p.specialization}" (it offers ${h.specializations.join(', ')}); update the hospital first`,
      { hospital: h.id, specialization: p.specialization },
    );
  }
  const d: Doctor = {
    key: p.doctor,
    hospital: p.hospital,
    name: p.name,
    specialization: p.specialization,
    qualification: p.qualification,
    experience: p.experience,
    contact: p.contact,
    active: true,
    registeredAt: ctx.time,
  };
  ctx.state.set(keys.doctor(p.doctor), d);
  ctx.state.set(keys.idx.hospitalDoctors(p.hospital, p.doctor), p.doctor);
}

export async function doctorDeactivate(
  ctx: RuleCtx,
  p: Payloads['doctor.deactivate'],
): Promise<void> {
  await requireRole(ctx, 'admin', 'doctor.deactivate');
  const d = await getEntity<Doctor>(ctx.state, keys.doctor(p.doctor));
  if (!d) {
    reject(RejectCode.UNKNOWN_ACCOUNT, `no doctor is registered with key ${short(p.doctor)}`, {
      doctor: p.doctor,
    });
  }
  if (!d.active) {
    reject(RejectCode.INACTIVE, `doctor ${short(p.doctor)} is already deactivated`, {
      doctor: p.doctor,
    });
  }
  ctx.state.set(keys.doctor(p.doctor), { ...d, active: false });
}
