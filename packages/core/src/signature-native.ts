/**
 * The native signature backend (node:crypto, OpenSSL): Node only. Importing this module installs
 * it as the backend of sign/verify/publicKeyOf (the Node entry, index.ts, does); browsers keep
 * noble.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nativeSign,
  verify as nativeVerify,
} from 'node:crypto';
import { concatBytes, equalBytes, fromHex, toHex } from './bytes.ts';
import { passesEncodingChecks, SECRET_KEY_LENGTH, useSignatureBackend } from './signature.ts';

const SPKI_PREFIX = fromHex('302a300506032b6570032100');
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
const keyCache = new Map<string, KeyObject>();
const KEY_CACHE_LIMIT = 4096;

function nativePublicKey(publicKey: Uint8Array): KeyObject {
  const id = toHex(publicKey);
  let k = keyCache.get(id);
  if (!k) {
    k = createPublicKey({
      key: Buffer.from(concatBytes(SPKI_PREFIX, publicKey)),
      format: 'der',
      type: 'spki',
    });
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(id, k);
  }
  return k;
}

/** The rule, with OpenSSL doing step 5. */
export function verifyNative(
  signature: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  if (!passesEncodingChecks(signature, publicKey)) return false;
  try {
    return nativeVerify(null, message, nativePublicKey(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * A session signs many times with one secret key: its KeyObject is remembered per key array
 * (weakly: it goes with the caller's array), checked against a copy of the bytes so a caller who
 * changes or wipes the array never signs with what it held before.
 */
const secretKeys = new WeakMap<Uint8Array, { bytes: Uint8Array; key: KeyObject }>();

function nativeSecretKey(secretKey: Uint8Array): KeyObject {
  const hit = secretKeys.get(secretKey);
  if (hit && equalBytes(hit.bytes, secretKey)) return hit.key;
  if (secretKey.length !== SECRET_KEY_LENGTH) {
    throw new Error(`an Ed25519 secret key is ${SECRET_KEY_LENGTH} bytes, not ${secretKey.length}`);
  }
  const key = createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, secretKey)),
    format: 'der',
    type: 'pkcs8',
  });
  secretKeys.set(secretKey, { bytes: secretKey.slice(), key });
  return key;
}

export function signNative(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  return new Uint8Array(nativeSign(null, message, nativeSecretKey(secretKey)));
}

export function publicKeyNative(secretKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(nativeSecretKey(secretKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(SPKI_PREFIX.length));
}

useSignatureBackend({
  name: 'native',
  sign: signNative,
  publicKey: publicKeyNative,
  verify: verifyNative,
});
