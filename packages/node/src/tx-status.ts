/**
 * Whether a transaction's status can still change (pure). A node knows a status; whether it is
 * final depends on the refusal's code and on the committed head's time (block times never go
 * back, so a deadline the head passed is passed for good).
 */
import type { TxStatus, TxStatusView } from '@ehr/core';

/** Refusals that no later state can change: the transaction can never commit. */
export const FINAL_REFUSALS: readonly string[] = [
  'MALFORMED',
  'WRONG_CHAIN',
  'BAD_SIGNATURE',
  'PAYLOAD_TOO_LARGE',
  'DEADLINE_REQUIRED',
  'DEADLINE_TOO_FAR',
  'EXPIRED',
  'NONCE_USED',
  // The ledger's: already applied (the mempool's "already pending" never gets here).
  'DUPLICATE',
];

/** A tracked status with whether it can still change, judged by the committed head's time. */
export function statusView(s: TxStatus, headTime: number): TxStatusView {
  switch (s.status) {
    case 'committed':
      return { ...s, final: true };
    case 'pending':
      return {
        ...s,
        final: false,
        ...(s.expires !== undefined ? { canCommitUntil: s.expires } : {}),
      };
    case 'expired':
      // Final once a committed block is past the deadline: block times never go back.
      return { ...s, final: headTime > s.expires };
    case 'rejected': {
      const final = s.final || (s.expires !== undefined && headTime > s.expires);
      return {
        ...s,
        final,
        ...(!final && s.expires !== undefined ? { canCommitUntil: s.expires } : {}),
      };
    }
  }
}

/** A refusal with its finality decided by its code (a valid deadline keeps the rest open). */
export function refusal(code: string, message: string, expires?: number): TxStatus {
  return {
    status: 'rejected',
    code,
    message,
    final: FINAL_REFUSALS.includes(code),
    ...(expires !== undefined ? { expires } : {}),
  };
}
