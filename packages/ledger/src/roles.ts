/**
 * Who an account or node is: the account role of a key (admin, doctor, patient), the check a
 * rule makes that its author holds one, and a node's membership role.
 */
import { RejectCode, reject } from './codes.ts';
import { keys } from './keys.ts';
import { getEntity, type MemberRole } from './model.ts';
import type { RuleCtx } from './rule-context.ts';
import type { StateReader } from './state.ts';
import { article, short } from './words.ts';

export type Role = 'admin' | 'doctor' | 'patient';

/** The account role of a key (admin, doctor or patient are exclusive), or null. */
export async function roleOf(state: StateReader, key: string): Promise<Role | null> {
  if ((await state.get(keys.admin(key))) !== undefined) return 'admin';
  if ((await state.get(keys.doctor(key))) !== undefined) return 'doctor';
  if ((await state.get(keys.patient(key))) !== undefined) return 'patient';
  return null;
}

/** Rejects unless the author holds `role`: UNKNOWN_ACCOUNT without any role, else UNAUTHORIZED. */
export async function requireRole(ctx: RuleCtx, role: Role, action: string): Promise<void> {
  const has = await roleOf(ctx.state, ctx.author);
  if (has === role) return;
  if (has === null) {
    const hint = role === 'patient' ? ' (sign up with patient.register first)' : '';
    reject(
      RejectCode.UNKNOWN_ACCOUNT,
      `${action} needs a registered ${role}; author ${short(ctx.author)} has no account${hint}`,
      {
        author: ctx.author,
        needs: role,
      },
    );
  }
  reject(
    RejectCode.UNAUTHORIZED,
    `${action} needs ${article(role)} ${role}; author ${short(ctx.author)} is ${article(has)} ${has}`,
    {
      author: ctx.author,
      role: has,
      needs: role,
    },
  );
}

export async function memberRole(state: StateReader, node: string): Promise<MemberRole | null> {
  const m = await getEntity<{ role: MemberRole }>(state, keys.member(node));
  return m ? m.role : null;
}
