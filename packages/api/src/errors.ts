/**
 * JSON-RPC 2.0 error codes. Application errors live in -32000..-32099; each EhrError code maps to
 * one number, and `data` carries the EhrError's code and details so a client knows what to do.
 */
export const RpcCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
} as const;

/** Application error numbers by EhrError code; anything unlisted is -32000. */
export const APP_CODES: Record<string, number> = {
  MALFORMED: -32001,
  WRONG_CHAIN: -32002,
  BAD_SIGNATURE: -32003,
  BAD_NONCE: -32004,
  DUPLICATE: -32005,
  PAYLOAD_TOO_LARGE: -32006,
  UNAUTHORIZED: -32007,
  UNKNOWN_ACCOUNT: -32008,
  UNKNOWN_HOSPITAL: -32009,
  UNKNOWN_RECORD: -32010,
  CONSENT_MISSING: -32011,
  CONSENT_EXPIRED: -32012,
  CONSENT_REVOKED: -32013,
  ALREADY_EXISTS: -32014,
  INACTIVE: -32015,
  ERASED: -32016,
  UNKNOWN_PROPOSAL: -32017,
  UNKNOWN_PAYLOAD: -32018,
  INVALID_STATE: -32019,
  MEMPOOL_FULL: -32020,
  TX_TIMEOUT: -32021,
  NODE_HALTED: -32022,
  SPECIALIZATION_MISMATCH: -32023,
  KEY_MISSING: -32024,
  PAYLOAD_MISSING: -32025,
  PAYLOAD_MISMATCH: -32026,
  EXPIRED: -32027,
  NONCE_USED: -32028,
  NONCE_PENDING: -32029,
  DEADLINE_REQUIRED: -32031,
  DEADLINE_TOO_FAR: -32032,
  NOT_FOUND: -32030,
  REQUEST_TOO_LARGE: -32040,
  RATE_LIMITED: -32041,
  READ_STALE: -32050,
  READ_REPLAYED: -32051,
  WS_ONLY: -32052,
  READ_WRONG_NODE: -32055,
  NOT_READY: -32053,
  NO_LEADER: -32054,
  INVALID_CURSOR: -32060,
  INVALID_LIMIT: -32061,
  STORE_CORRUPT: -32070,
};

export const appCode = (ehrCode: string): number => APP_CODES[ehrCode] ?? -32000;

export class RpcError extends Error {
  readonly code: number;
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}
