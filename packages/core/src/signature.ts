/**
 * Ed25519 keys and signatures. Consensus depends on every node deciding validity alike, so the
 * verification rule is fixed here and enforced identically by both backends:
 *
 *   strict, cofactorless RFC 8032 verification:
 *   1. the signature is 64 bytes (R || S) and the public key A 32 bytes;
 *   2. S < L (no malleable signatures);
 *   3. A and R are canonical encodings (y < p; the sign bit never set on an x = 0 point);
 *   4. A and R are not of small order (the 8 torsion points are refused, as keys and as R);
 *   5. encode([S]B - [k]A) == R, with k = SHA-512(R || A || M) mod L.
 *
 * The noble backend computes step 5 itself (noble's own verify is cofactored); the native
 * backend (node:crypto, OpenSSL, ~10x faster; signature-native.ts, installed by the Node entry) runs steps 1-4 in JS and OpenSSL's check, which
 * is the same cofactorless comparison. Tests hold the two to the same answers.
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes, toHex } from './bytes.ts';
import { randomBytes } from './random.ts';

ed.hashes.sha512 = sha512;

export const PUBLIC_KEY_LENGTH = 32;
export const SECRET_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

/** Group order L. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;

/** Encodings of the 8 small-order points, plus the x = 0 points written with the sign bit set. */
export const SMALL_ORDER_ENCODINGS: ReadonlySet<string> = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
]);

function leToBigint(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

/** y (sign bit cleared) < p. */
function canonicalY(enc: Uint8Array): boolean {
  const y = leToBigint(enc) & ((1n << 255n) - 1n);
  return y < P;
}

/** Steps 1-4 of the rule; cheap, no curve arithmetic. */
export function passesEncodingChecks(signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_LENGTH || publicKey.length !== PUBLIC_KEY_LENGTH) return false;
  const r = signature.subarray(0, 32);
  const s = leToBigint(signature.subarray(32));
  if (s >= L) return false;
  if (!canonicalY(publicKey) || !canonicalY(r)) return false;
  if (SMALL_ORDER_ENCODINGS.has(toHex(publicKey)) || SMALL_ORDER_ENCODINGS.has(toHex(r)))
    return false;
  return true;
}

/** The rule, computed with @noble/ed25519's point arithmetic. */
export function verifyNoble(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (!passesEncodingChecks(signature, publicKey)) return false;
  try {
    const a = ed.Point.fromBytes(publicKey, false);
    const r = signature.subarray(0, 32);
    ed.Point.fromBytes(r, false);
    const s = leToBigint(signature.subarray(32));
    const k = ed.etc.mod(leToBigint(sha512(concatBytes(r, publicKey, message))), L);
    const rPrime = ed.Point.BASE.multiplyUnsafe(s).subtract(a.multiplyUnsafe(k));
    const enc = rPrime.toBytes();
    for (let i = 0; i < 32; i++) if (enc[i] !== r[i]) return false;
    return true;
  } catch {
    return false;
  }
}

export function generateSecretKey(): Uint8Array {
  return randomBytes(SECRET_KEY_LENGTH);
}

/** The Ed25519 public key of a secret key (the installed backend; identical bytes on both). */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return backend.publicKey(secretKey);
}

export function publicKeyOfNoble(secretKey: Uint8Array): Uint8Array {
  return ed.getPublicKey(secretKey);
}

/** A signature backend: the noble one everywhere; Node swaps in OpenSSL (signature-native.ts). */
export interface SignatureBackend {
  name: string;
  sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array;
  /** The public key of a secret key; throws unless it is 32 bytes. */
  publicKey(secretKey: Uint8Array): Uint8Array;
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

let backend: SignatureBackend = {
  name: 'noble',
  sign: (m, sk) => ed.sign(m, sk),
  publicKey: (sk) => ed.getPublicKey(sk),
  verify: verifyNoble,
};

/** Installs a backend that computes the same rule (held to the same answers by tests). */
export function useSignatureBackend(b: SignatureBackend): void {
  backend = b;
}

export function signatureBackend(): string {
  return backend.name;
}

/** Deterministic Ed25519 (RFC 8032): node:crypto and noble produce identical bytes (tested). */
export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return backend.sign(message, secretKey);
}

export function signNoble(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return ed.sign(message, secretKey);
}

/** Verifies under the rule above (native backend on Node, noble in a browser). */
export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  return backend.verify(signature, message, publicKey);
}
