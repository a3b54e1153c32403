/**
 * Exit codes and friendly error messages. The codes are stable (scripts branch on them) and
 * listed in `ehr --help`; stack traces only with --verbose.
 */
import { RpcCode, RpcError, rpcErrorCode } from '@ehr/api';
import { EhrError, isEhrError } from '@ehr/core';

export const EXIT = {
  OK: 0,
  /** Anything not listed below. */
  FAILURE: 1,
  /** Bad arguments or options, a missing --key. */
  USAGE: 2,
  /** No node at --rpc. */
  UNREACHABLE: 3,
  /** The ledger rejected a transaction (the code says why). */
  REJECTED: 4,
  /** A read or an open was denied: no consent, revoked, expired, wrong key. */
  DENIED: 5,
  /** No such hospital, record, account, proposal, block or transaction. */
  NOT_FOUND: 6,
  /** `chain verify` found a block that does not verify, or `node verify` a damaged store. */
  CORRUPT: 7,
} as const;

export const EXIT_HELP = `
Exit codes:
  0  success                 4  transaction rejected by the ledger
  1  other failure           5  access denied (consent, key)
  2  usage error             6  not found
  3  node unreachable        7  chain verify found a bad block, node verify a damaged store`;

/** A usage error raised by a command (bad value, missing option): exit code 2. */
export function usage(message: string): EhrError {
  return new EhrError('USAGE', message, {});
}

const DENIED = new Set([
  'UNAUTHORIZED',
  'CONSENT_MISSING',
  'CONSENT_EXPIRED',
  'CONSENT_REVOKED',
  'ERASED',
  'INACTIVE',
  'READ_STALE',
  'READ_REPLAYED',
  'SEAL_WRONG_KEY',
  'SEAL_OPEN_FAILED',
  'KEY_MISSING',
  'KEYFILE_BAD_PASSPHRASE',
]);
const NOT_FOUND = new Set([
  'NOT_FOUND',
  'UNKNOWN_HOSPITAL',
  'UNKNOWN_RECORD',
  'UNKNOWN_ACCOUNT',
  'UNKNOWN_PROPOSAL',
  'UNKNOWN_PAYLOAD',
  'KEYFILE_UNREADABLE',
  'CONFIG_UNREADABLE',
]);
/** A data directory found damaged (node verify, or a node refusing to start on it). */
const STORE_DAMAGE = new Set([
  'STORE_CORRUPT',
  'STORE_DAMAGED',
  'STORE_LOG_DAMAGED',
  'STORE_LOST_WRITES',
  'STORE_MARKER_DAMAGED',
  'STORE_MARKER_MISSING',
]);
/** Ledger rejection codes, also when the client catches them before submitting. */
const REJECTED = new Set([
  'MALFORMED',
  'WRONG_CHAIN',
  'BAD_SIGNATURE',
  'BAD_NONCE',
  'DUPLICATE',
  'PAYLOAD_TOO_LARGE',
  'ALREADY_EXISTS',
  'INVALID_STATE',
  'SPECIALIZATION_MISMATCH',
  'PAYLOAD_MISSING',
  'PAYLOAD_MISMATCH',
  'MEMPOOL_FULL',
]);
const USAGE = new Set([
  'USAGE',
  'BAD_ARGUMENT',
  'KEY_REQUIRED',
  'HOSPITAL_KEY_REQUIRED',
  'KEYFILE_NEEDS_PASSPHRASE',
  /** An import file that is not a FHIR Bundle the client can take (nothing was submitted). */
  'FHIR_INVALID',
]);

function unreachable(err: unknown): boolean {
  const e = err as Error & { cause?: { code?: string } };
  return e?.name === 'TypeError' && /fetch failed/.test(e.message);
}

/** The exit code and the one-line message for an error a command threw. */
export function describeError(err: unknown, rpcUrl: string): { exit: number; message: string } {
  if (unreachable(err)) {
    return {
      exit: EXIT.UNREACHABLE,
      message: `cannot reach the node at ${rpcUrl}: is it running? (--rpc <url> or EHR_RPC)`,
    };
  }
  if ((err as Error)?.name === 'TimeoutError') {
    return { exit: EXIT.UNREACHABLE, message: `the node at ${rpcUrl} did not answer in time` };
  }
  const code = isEhrError(err) ? err.code : rpcErrorCode(err);
  const message = (err as Error).message ?? String(err);
  const tagged = code ? `${message} [${code}]` : message;
  if (err instanceof RpcError && code === undefined) {
    const exit = err.code === RpcCode.INVALID_PARAMS ? EXIT.USAGE : EXIT.FAILURE;
    return { exit, message: `${message} (JSON-RPC ${err.code})` };
  }
  if (code === undefined) return { exit: EXIT.FAILURE, message };
  // A transaction the rules refused (the client names the kind), whatever the code.
  const data = isEhrError(err) ? err.data : undefined;
  if (data && typeof data['kind'] === 'string' && typeof data['hash'] === 'string') {
    return { exit: code === 'TX_TIMEOUT' ? EXIT.FAILURE : EXIT.REJECTED, message: tagged };
  }
  if (code === 'CHAIN_INVALID' || STORE_DAMAGE.has(code))
    return { exit: EXIT.CORRUPT, message: tagged };
  if (USAGE.has(code)) return { exit: EXIT.USAGE, message };
  if (DENIED.has(code)) return { exit: EXIT.DENIED, message: tagged };
  if (NOT_FOUND.has(code)) return { exit: EXIT.NOT_FOUND, message: tagged };
  if (REJECTED.has(code)) return { exit: EXIT.REJECTED, message: tagged };
  return { exit: EXIT.FAILURE, message: tagged };
}
