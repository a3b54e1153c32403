/** Sealed payloads a transaction introduces: size, novelty and body checks, then the metadata. */
import { sha256, toHex } from '@ehr/core';
import { RejectCode, reject } from './codes.ts';
import { keys } from './keys.ts';
import type { PayloadInfo, PayloadKind } from './model.ts';
import type { RuleCtx } from './rule-context.ts';
import { short } from './words.ts';

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
