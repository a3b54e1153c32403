/**
 * The native X25519 backend of sealing (node:crypto, OpenSSL, ~30x faster than noble): Node
 * only. Importing this module installs it (the Node entry, index.ts, does); browsers keep noble.
 * Raw keys become KeyObjects through their fixed DER prefixes (RFC 8410).
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { concatBytes, fromHex, toHex } from './bytes.ts';
import { useAsyncCryptoBackend } from './crypto-async.ts';
import { ephemeralShared, useX25519Backend, type X25519Backend } from './seal.ts';
import { sign } from './signature.ts';

const X25519_SPKI_PREFIX = fromHex('302a300506032b656e032100');
const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');

function need32(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) {
    throw new Error(`an X25519 ${what} is 32 bytes, not ${b?.length}`);
  }
}

function secretKeyObject(secret: Uint8Array): KeyObject {
  need32(secret, 'secret key');
  return createPrivateKey({
    key: Buffer.from(concatBytes(X25519_PKCS8_PREFIX, secret)),
    format: 'der',
    type: 'pkcs8',
  });
}

export function x25519PublicKeyNative(secret: Uint8Array): Uint8Array {
  const spki = createPublicKey(secretKeyObject(secret)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(X25519_SPKI_PREFIX.length));
}

/** Readers repeat (the patient, a few hospitals): their KeyObjects are remembered. */
const publicKeys = new Map<string, KeyObject>();
const PUBLIC_KEY_CACHE_LIMIT = 1024;

function publicKeyObject(u: Uint8Array): KeyObject {
  need32(u, 'public key');
  const id = toHex(u);
  let k = publicKeys.get(id);
  if (!k) {
    k = createPublicKey({
      key: Buffer.from(concatBytes(X25519_SPKI_PREFIX, u)),
      format: 'der',
      type: 'spki',
    });
    if (publicKeys.size >= PUBLIC_KEY_CACHE_LIMIT)
      publicKeys.delete(publicKeys.keys().next().value!);
    publicKeys.set(id, k);
  }
  return k;
}

function derive(privateKey: KeyObject, publicKey: Uint8Array): Uint8Array {
  const pub = publicKeyObject(publicKey);
  const shared = new Uint8Array(diffieHellman({ privateKey, publicKey: pub }));
  // OpenSSL refuses an all-zero result itself (a low-order u), as noble refuses the u; kept
  // explicit so the refusal does not depend on the OpenSSL version.
  if (shared.every((b) => b === 0)) throw new Error('X25519: low-order public key');
  return shared;
}

export function x25519SharedSecretNative(secret: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return derive(secretKeyObject(secret), publicKey);
}

/** A key pair made by OpenSSL (no import of a raw secret) and its shared secret with u. */
export function ephemeralSharedNative(u: Uint8Array): {
  ephemeral: Uint8Array;
  shared: Uint8Array;
} {
  need32(u, 'public key');
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return {
    ephemeral: new Uint8Array(spki.subarray(X25519_SPKI_PREFIX.length)),
    shared: derive(privateKey, u),
  };
}

export const nativeX25519: X25519Backend = {
  name: 'native',
  publicKey: x25519PublicKeyNative,
  sharedSecret: x25519SharedSecretNative,
  ephemeralShared: ephemeralSharedNative,
};

useX25519Backend(nativeX25519);
// Node: the async operations are the native sync ones (no thread hop, no Web Crypto import).
useAsyncCryptoBackend({
  name: 'native',
  ephemeralShared: async (u) => ephemeralShared(u),
  sign: async (m, sk) => sign(m, sk),
});
