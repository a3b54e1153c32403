/**
 * The native signature backend (node:crypto, OpenSSL): Node only. Importing this module installs
 * it as the backend of sign/verify (the Node entry, index.ts, does); browsers keep noble.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign as nativeSign,
  verify as nativeVerify,
} from 'node:crypto';
import { concatBytes, fromHex, toHex } from './bytes.ts';
import { passesEncodingChecks, useSignatureBackend } from './signature.ts';

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

export function signNative(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const key = createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, secretKey)),
    format: 'der',
    type: 'pkcs8',
  });
  return new Uint8Array(nativeSign(null, message, key));
}

useSignatureBackend({ name: 'native', sign: signNative, verify: verifyNative });
