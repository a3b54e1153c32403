/**
 * Signed reads. Reads of health data, or of who is whose patient, carry `auth`: the reader's
 * key, a fresh time and a random nonce, and an Ed25519 signature over the chain id, the method,
 * the other params (canonical JSON) and that time and nonce. The gateway checks freshness,
 * refuses a nonce it has seen, and verifies the signature before applying the access rules.
 */
import { publicKeyOf, randomBytes, sha256, sign, toHex, utf8 } from '@ehr/core';

export interface ReadAuth {
  /** The reader's Ed25519 public key (hex). */
  reader: string;
  /** The reader's clock, ms since the epoch. */
  time: number;
  /** 16 random bytes (hex), never reused. */
  nonce: string;
  /** Ed25519 signature (hex) over readSigningBytes(...). */
  signature: string;
}

/** How far the reader's clock may be from the gateway's. */
export const READ_MAX_SKEW_MS = 30_000;
const DOMAIN = 'ehr-ledger/read/v1';

/** JSON with object keys sorted at every level: both sides hash the same text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(',')}}`;
}

export function readSigningBytes(
  chainId: string,
  method: string,
  params: Record<string, unknown>,
  time: number,
  nonce: string,
): Uint8Array {
  const { auth: _omit, ...rest } = params;
  return sha256(
    utf8([DOMAIN, chainId, method, canonicalJson(rest), String(time), nonce].join('\n')),
  );
}

/** Signs a read on the caller's side; returns params with `auth` added. */
export function signRead(
  chainId: string,
  method: string,
  params: Record<string, unknown>,
  secretKey: Uint8Array,
  now = Date.now(),
): Record<string, unknown> {
  const nonce = toHex(randomBytes(16));
  const signature = sign(readSigningBytes(chainId, method, params, now, nonce), secretKey);
  const auth: ReadAuth = {
    reader: toHex(publicKeyOf(secretKey)),
    time: now,
    nonce,
    signature: toHex(signature),
  };
  return { ...params, auth };
}
