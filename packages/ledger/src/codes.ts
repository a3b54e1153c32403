/**
 * Rejection codes. Every rule violation is a deterministic rejection carrying one of these codes
 * (the same on every node), raised as a Rejection (an EhrError) and reported in the receipt.
 * The mempool in @ehr/node uses the same words for the checks it makes before the rules run.
 */
import { EhrError, type ErrorData } from '@ehr/core';

export const RejectCode = {
  /** The transaction (or a payload field) does not decode or has the wrong shape. */
  MALFORMED: 'MALFORMED',
  /** Bound to another chain id. */
  WRONG_CHAIN: 'WRONG_CHAIN',
  /** The signature does not verify for the author key. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** The nonce is not the account's next nonce. */
  BAD_NONCE: 'BAD_NONCE',
  /** The block time is past the transaction's deadline (`expires`): it can never be included. */
  EXPIRED: 'EXPIRED',
  /** The same transaction (same hash) was already applied; or a vote cast twice. */
  DUPLICATE: 'DUPLICATE',
  /** The author's role may not do this. */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The author (or a referenced account) holds no role on chain. */
  UNKNOWN_ACCOUNT: 'UNKNOWN_ACCOUNT',
  UNKNOWN_HOSPITAL: 'UNKNOWN_HOSPITAL',
  UNKNOWN_RECORD: 'UNKNOWN_RECORD',
  UNKNOWN_PROPOSAL: 'UNKNOWN_PROPOSAL',
  UNKNOWN_PAYLOAD: 'UNKNOWN_PAYLOAD',
  /** An id, key or payload hash that must be new is already taken. */
  ALREADY_EXISTS: 'ALREADY_EXISTS',
  /** The hospital or doctor has been deactivated. */
  INACTIVE: 'INACTIVE',
  /** The target is not in a state that allows this (proposal closed, payload erased, ...). */
  INVALID_STATE: 'INVALID_STATE',
  /** The hospital does not offer the specialization, or the doctor practises another one. */
  SPECIALIZATION_MISMATCH: 'SPECIALIZATION_MISMATCH',
  CONSENT_MISSING: 'CONSENT_MISSING',
  CONSENT_EXPIRED: 'CONSENT_EXPIRED',
  CONSENT_REVOKED: 'CONSENT_REVOKED',
  /** A reader the record is meant for has no wrapped data key. */
  KEY_MISSING: 'KEY_MISSING',
  /** Transaction, payload or document larger than the genesis limits allow. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  /** Admission / block building: the payload body was not supplied beside the transaction. */
  PAYLOAD_MISSING: 'PAYLOAD_MISSING',
  /** Admission / block building: the supplied body does not hash to the transaction's hash. */
  PAYLOAD_MISMATCH: 'PAYLOAD_MISMATCH',
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

export class Rejection extends EhrError {
  override readonly code: RejectCode;
  constructor(code: RejectCode, message: string, data: ErrorData = {}) {
    super(code, message, data);
    this.name = 'Rejection';
    this.code = code;
  }
}

export function reject(code: RejectCode, message: string, data?: ErrorData): never {
  throw new Rejection(code, message, data);
}

/** Block-level errors: the block itself is invalid (not one transaction); applyBlock throws. */
export const BlockErrorCode = {
  BLOCK_INVALID: 'BLOCK_INVALID',
  STATE_MISMATCH: 'STATE_MISMATCH',
} as const;
