/**
 * What a rule sees while it runs: the state (a child overlay, dropped if the rule rejects), the
 * chain config, the block position and time, the author, the payload bodies delivered beside
 * the block, and the effects it reports beyond state (consensus changes, payloads to keep/erase).
 */
import { sha256, toHex } from '@ehr/core';
import { RejectCode, reject } from './codes.ts';
import { keys } from './keys.ts';
import {
  type ChainConfig,
  getEntity,
  type MemberRole,
  type PayloadInfo,
  type PayloadKind,
} from './model.ts';
import type { State, StateReader } from './state.ts';

/** Payload bodies by lowercase hex SHA-256 (a Map works). */
export interface PayloadBodies {
  get(hashHex: string): Uint8Array | undefined;
}

/** A node membership change the node turns into a consensus configuration change. */
export type ConsensusChange = {
  op: 'add' | 'remove';
  role: MemberRole;
  /** Node public key, hex. */
  node: string;
  /** The node's membership before the change ('observer' when a validator add promotes it). */
  previousRole: MemberRole | null;
  /** The governance proposal that made it. */
  proposal: string;
};

export type Effects = {
  consensusChanges: ConsensusChange[];
  /** Payload hashes (hex) introduced by applied transactions: the store keeps their bodies. */
  payloadsReferenced: string[];
  /** Payload hashes (hex) erased by applied transactions: the store deletes their bodies. */
  payloadsErased: string[];
  /** Supplied bodies that did not match the transaction (dropped; the node should refetch). */
  payloadsRejected: string[];
};

export const emptyEffects = (): Effects => ({
  consensusChanges: [],
  payloadsReferenced: [],
  payloadsErased: [],
  payloadsRejected: [],
});

export type RuleCtx = {
  state: State;
  chain: ChainConfig;
  height: number;
  /** Block time (ms); the only clock the rules know. */
  time: number;
  index: number;
  pos: string;
  /** Transaction hash, hex: the id of whatever the transaction creates. */
  hash: string;
  /** Author public key, hex. */
  author: string;
  payloads: PayloadBodies | undefined;
  /** Admission and block building: a body must be supplied and match. */
  strictPayloads: boolean;
  /**
   * Signed before transactions carried deadlines. Rules added since then apply only to newer
   * transactions, so an old chain replays to exactly the state it had (coded read purposes,
   * the prescriber's access, revoking a hospital never shared with).
   */
  legacy: boolean;
  effects: Effects;
};

export type Role = 'admin' | 'doctor' | 'patient';

/** The account role of a key (admin, doctor or patient are exclusive), or null. */
export async function roleOf(state: StateReader, key: string): Promise<Role | null> {
  if ((await state.get(keys.admin(key))) !== undefined) return 'admin';
  if ((await state.get(keys.doctor(key))) !== undefined) return 'doctor';
  if ((await state.get(keys.patient(key))) !== undefined) return 'patient';
  return null;
}

export const article = (word: string): string => (/^[aeiou]/.test(word) ? 'an' : 'a');

export const short = (hex: string): string => `${hex.slice(0, 12)}…`;

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

/**
 * Registers a sealed payload introduced by this transaction: checks its size against `limit`,
 * that the hash is new, and (when supplied) that the body matches; writes its metadata.
 */
export async function registerPayload(
  ctx: RuleCtx,
  p: { payloadHash: Uint8Array; payloadSize: number },
  limit: number,
  info: { kind: PayloadKind; patient: string; ref: string },
  field = 'payload',
): Promise<void> {
  const hash = toHex(p.payloadHash);
  if (p.payloadSize > limit) {
    reject(
      RejectCode.PAYLOAD_TOO_LARGE,
      `${field} is ${p.payloadSize} bytes; a ${info.kind} may be at most ${limit} bytes`,
      {
        size: p.payloadSize,
        limit,
      },
    );
  }
  if ((await ctx.state.get(keys.payload(hash))) !== undefined) {
    reject(
      RejectCode.ALREADY_EXISTS,
      `${field} ${short(hash)} is already on chain; seal each body with a fresh key`,
      { hash },
    );
  }
  const body = ctx.payloads?.get(hash);
  if (body === undefined) {
    if (ctx.strictPayloads) {
      reject(
        RejectCode.PAYLOAD_MISSING,
        `${field} body ${short(hash)} was not supplied with the transaction`,
        { hash },
      );
    }
  } else if (body.length !== p.payloadSize || toHex(sha256(body)) !== hash) {
    if (ctx.strictPayloads) {
      reject(
        RejectCode.PAYLOAD_MISMATCH,
        `${field} body does not match: the transaction says ${p.payloadSize} bytes hashing to ${short(hash)}`,
        { hash },
      );
    }
    // In a committed block the transaction stands; the bad body is dropped and reported.
    ctx.effects.payloadsRejected.push(hash);
  }
  const entry: PayloadInfo = {
    hash,
    size: p.payloadSize,
    kind: info.kind,
    patient: info.patient,
    ref: info.ref,
    erased: false,
    erasedAt: null,
    erasedBy: null,
    legalOrder: null,
  };
  ctx.state.set(keys.payload(hash), entry);
  ctx.effects.payloadsReferenced.push(hash);
}
