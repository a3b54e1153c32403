/**
 * Every error shown to a person: what happened in plain words, what to do, and the code (for
 * support). Codes come from EhrError (client side), RpcError data.code (node side) or the
 * portal's own form checks.
 */
import { RpcError, rpcErrorCode } from '@ehr/api';
import { EhrError, isEhrError } from '@ehr/core';

const WORDS: Record<string, string> = {
  FORM_INVALID: 'Some fields need your attention.',
  FILE_TOO_LARGE: 'A file is larger than this network accepts.',
  KEYFILE_BAD_PASSPHRASE: 'That passphrase does not open this key. Check it and try again.',
  KEYFILE_NEEDS_PASSPHRASE: 'This key file is protected: enter its passphrase.',
  KEYFILE_CORRUPT: 'This file is not an EHR Ledger key file, or it was damaged.',
  SEAL_WRONG_KEY:
    "This is not your hospital's encryption key. Ask your hospital for the right file.",
  HOSPITAL_KEY_REQUIRED: "Load your hospital's encryption key first (ask your hospital for it).",
  KEY_MISSING: 'You may see this record, but it has not been shared so that you can open it yet.',
  UNAUTHORIZED: 'This account is not allowed to do that.',
  CONSENT_MISSING: 'The patient has not shared this with your hospital.',
  CONSENT_REVOKED: 'The patient has stopped sharing this with your hospital.',
  CONSENT_EXPIRED: 'The sharing period has ended (or the date chosen is in the past).',
  UNKNOWN_ACCOUNT: 'This account is not registered on the network yet.',
  UNKNOWN_HOSPITAL: 'There is no such hospital.',
  UNKNOWN_RECORD: 'That record does not exist (or is not yours).',
  UNKNOWN_PROPOSAL: 'There is no such proposal.',
  SPECIALIZATION_MISMATCH: 'That hospital does not offer this specialization.',
  ALREADY_EXISTS: 'This is already registered.',
  INACTIVE: 'This hospital or doctor is no longer active.',
  INVALID_STATE: 'That cannot be done in the current state (for example, already prescribed).',
  PAYLOAD_TOO_LARGE: 'The data is larger than this network accepts.',
  REQUEST_TOO_LARGE: 'The upload is larger than this node accepts.',
  ERASED: 'This record was erased at the patient’s request.',
  EXPIRED: 'This has expired.',
  NOT_FOUND: 'Nothing was found.',
  MALFORMED: 'The node did not understand the request. Reload the page and try again.',
  BAD_ARGUMENT: 'A value is not in the expected form.',
  BAD_NONCE: 'Another action from this account was in progress. Try again.',
  BAD_SIGNATURE: 'The signature was refused. Sign out, sign in again and retry.',
  WRONG_CHAIN: 'This key belongs to another network.',
  DUPLICATE: 'This was already sent.',
  MEMPOOL_FULL: 'The network is busy. Try again in a minute.',
  RATE_LIMITED: 'Too many requests at once. Wait a moment and try again.',
  TX_TIMEOUT: 'The network accepted this but has not confirmed it yet. Check again shortly.',
  NO_LEADER: 'The network is choosing a leader. Try again in a few seconds.',
  NOT_READY: 'This node is still starting. Try again in a few seconds.',
  NODE_HALTED: 'This node stopped for safety. Contact the hospital’s IT team.',
  READ_STALE: 'Your computer’s clock seems wrong. Correct it and try again.',
  READ_REPLAYED: 'That request was already used. Try again.',
  NETWORK: 'Cannot reach the hospital’s node. Check your connection and try again.',
  BAD_RESPONSE: 'The node sent an answer the portal does not understand.',
};

export interface Shown {
  words: string;
  code: string;
  detail: string;
}

export function errorCode(err: unknown): string {
  if (isEhrError(err)) return err.code;
  const c = rpcErrorCode(err);
  if (c) return c;
  if (err instanceof RpcError) return `RPC_${err.code}`;
  if (err instanceof TypeError || (err as Error)?.name === 'TimeoutError') return 'NETWORK';
  return 'UNEXPECTED';
}

export function explain(err: unknown): Shown {
  const code = errorCode(err);
  return {
    words:
      WORDS[code] ?? 'Something went wrong. Try again; if it keeps happening, contact support.',
    code,
    detail: err instanceof Error ? err.message : String(err),
  };
}

/** A form check failed: a coded error whose message says what to fix. */
export function formError(message: string, code = 'FORM_INVALID'): EhrError {
  return new EhrError(code, message, {});
}
