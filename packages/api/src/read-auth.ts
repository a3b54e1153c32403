/**
 * Signed reads. Reads of health data, or of who is whose patient, carry `auth`: the reader's
 * key, the serving node's id, a fresh time and a random nonce, and an Ed25519 signature over the
 * chain id, the node id, the method, the other params (canonical JSON) and that time and nonce.
 * The gateway refuses a credential made for another node, checks freshness, refuses a nonce it
 * has seen, and verifies the signature before applying the access rules. Binding the node makes
 * one credential good for one read on one node: nonces are remembered per node, so without it the
 * same signed read could be replayed to every other node (one more body and audit entry each).
 */
import { publicKeyOf, randomBytes, sha256, sign, toHex, utf8 } from '@ehr/core';

export interface ReadAuth {
  /** The reader's Ed25519 public key (hex). */
  reader: string;
  /** The node the read is for (its node id, hex): refused by every other node. */
  node: string;
  /** The reader's clock, ms since the epoch. */
  time: number;
  /** 16 random bytes (hex), never reused. */
  nonce: string;
  /** Ed25519 signature (hex) over readSigningBytes(...). */
  signature: string;
}

/** How far the reader's clock may be from the gateway's. */
export const READ_MAX_SKEW_MS = 30_000;
const DOMAIN = 'ehr-ledger/read/v2';

/** Where a signed read may be served: one chain, one node. */
export interface ReadTarget {
  chainId: string;
  /** The serving node's id (hex), as its `status` reports it. */
  node: string;
}

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
  target: ReadTarget,
  method: string,
  params: Record<string, unknown>,
  time: number,
  nonce: string,
): Uint8Array {
  const { auth: _omit, ...rest } = params;
  return sha256(
    utf8(
      [DOMAIN, target.chainId, target.node, method, canonicalJson(rest), String(time), nonce].join(
        '\n',
      ),
    ),
  );
}

/** Signs a read for one node on the caller's side; returns params with `auth` added. */
export function signRead(
  target: ReadTarget,
  method: string,
  params: Record<string, unknown>,
  secretKey: Uint8Array,
  now = Date.now(),
): Record<string, unknown> {
  const nonce = toHex(randomBytes(16));
  const signature = sign(readSigningBytes(target, method, params, now, nonce), secretKey);
  const auth: ReadAuth = {
    reader: toHex(publicKeyOf(secretKey)),
    node: target.node,
    time: now,
    nonce,
    signature: toHex(signature),
  };
  return { ...params, auth };
}
