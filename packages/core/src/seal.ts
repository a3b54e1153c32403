/**
 * Sealing health data. A payload is encrypted once with a fresh random data key
 * (XChaCha20-Poly1305: 24-byte random nonces are safe to pick at random, and the cipher is
 * constant-time in pure JS); the data key is then wrapped for each reader: X25519 between a fresh
 * ephemeral key and the reader's key (derived from their Ed25519 account key, so an account has
 * one key), HKDF-SHA256 to a key-encryption key, XChaCha20-Poly1305 with the reader's account key
 * and the ephemeral key as associated data, so a wrapped key cannot be moved to another reader.
 * Sharing with a new hospital = wrapping the same data key for it; nothing is re-encrypted.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, equalBytes, toHex, utf8 } from './bytes.ts';
import { asyncCryptoBackend } from './crypto-async.ts';
import { decode, encode } from './encoding.ts';
import { EhrError } from './errors.ts';
import { randomBytes } from './random.ts';
import { expectArray, expectBytes, expectKeys, expectMap } from './shape.ts';
import { publicKeyOf } from './signature.ts';

/**
 * An X25519 backend (RFC 7748): noble's pure JS everywhere; Node installs OpenSSL's
 * (seal-native.ts, ~30x faster). Both clamp the scalar, mask the top bit of u, accept
 * non-canonical u, and refuse (throw) a low-order u, whose result would be all zeros; tests hold
 * them to identical bytes and identical refusals.
 */
export interface X25519Backend {
  name: string;
  /** X25519(secret, 9). */
  publicKey(secret: Uint8Array): Uint8Array;
  /** X25519(secret, u); throws on a low-order u and on keys that are not 32 bytes. */
  sharedSecret(secret: Uint8Array, publicKey: Uint8Array): Uint8Array;
  /** A fresh ephemeral key pair's public key and its shared secret with u (else random + the two above). */
  ephemeralShared?(publicKey: Uint8Array): { ephemeral: Uint8Array; shared: Uint8Array };
}

export const nobleX25519: X25519Backend = {
  name: 'noble',
  publicKey: (s) => x25519.getPublicKey(s),
  sharedSecret: (s, p) => x25519.getSharedSecret(s, p),
};

let xBackend: X25519Backend = nobleX25519;

/** Installs an X25519 backend that computes the same function (held to it by tests). */
export function useX25519Backend(b: X25519Backend): void {
  xBackend = b;
}

export function x25519Backend(): string {
  return xBackend.name;
}

export function x25519SharedSecret(secret: Uint8Array, publicKey: Uint8Array): Uint8Array {
  return xBackend.sharedSecret(secret, publicKey);
}

export function x25519PublicKey(secret: Uint8Array): Uint8Array {
  return xBackend.publicKey(secret);
}

export interface WrappedKey {
  /** Ed25519 public key of the reader the data key is wrapped for. */
  recipient: Uint8Array;
  ephemeral: Uint8Array;
  wrapped: Uint8Array;
}

export interface SealedPayload {
  ciphertext: Uint8Array;
  nonce: Uint8Array;
  keys: WrappedKey[];
}

const DATA_AAD = utf8('ehr-ledger/seal/v1');
const WRAP_INFO = utf8('ehr-ledger/wrap/v1');
const ZERO_NONCE = new Uint8Array(24);

const random = (n: number) => new Uint8Array(randomBytes(n));

function openFailed(message: string): EhrError {
  return new EhrError('SEAL_OPEN_FAILED', message, {});
}

/**
 * Readers repeat (the patient, a few hospitals): the Ed25519 -> X25519 conversion (a point
 * decompression, ~0.4 ms in JS) is a pure function of the key, so it is remembered. Invalid keys
 * are not remembered: they throw every time.
 */
const montgomeryCache = new Map<string, Uint8Array>();
const MONTGOMERY_CACHE_LIMIT = 1024;

export function encryptionPublicKey(edPublicKey: Uint8Array): Uint8Array {
  const id = toHex(edPublicKey);
  let x = montgomeryCache.get(id);
  if (!x) {
    x = ed25519.utils.toMontgomery(edPublicKey);
    if (montgomeryCache.size >= MONTGOMERY_CACHE_LIMIT) {
      montgomeryCache.delete(montgomeryCache.keys().next().value!);
    }
    montgomeryCache.set(id, x);
  }
  return x.slice();
}

export function encryptionSecretKey(edSecretKey: Uint8Array): Uint8Array {
  return ed25519.utils.toMontgomerySecret(edSecretKey);
}

function kek(shared: Uint8Array, ephemeral: Uint8Array, recipientX: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(ephemeral, recipientX), WRAP_INFO, 32);
}

function recipientMontgomery(recipientEdPublicKey: Uint8Array): Uint8Array {
  try {
    return encryptionPublicKey(recipientEdPublicKey);
  } catch {
    throw new EhrError(
      'SEAL_BAD_RECIPIENT',
      `not an Ed25519 public key: ${toHex(recipientEdPublicKey)}`,
      {},
    );
  }
}

/** A small-order Ed25519 key maps to a low-order u: nothing sealed for it could be secret. */
const smallOrderRecipient = (recipientEdPublicKey: Uint8Array) =>
  new EhrError(
    'SEAL_BAD_RECIPIENT',
    `a key of small order cannot be a reader: ${toHex(recipientEdPublicKey)}`,
    {},
  );

function wrapWith(
  dataKey: Uint8Array,
  recipientEdPublicKey: Uint8Array,
  recipientX: Uint8Array,
  ephemeral: Uint8Array,
  shared: Uint8Array,
): WrappedKey {
  const aad = concatBytes(recipientEdPublicKey, ephemeral);
  const wrapped = xchacha20poly1305(kek(shared, ephemeral, recipientX), ZERO_NONCE, aad).encrypt(
    dataKey,
  );
  return { recipient: recipientEdPublicKey.slice(), ephemeral, wrapped };
}

export function wrapDataKey(dataKey: Uint8Array, recipientEdPublicKey: Uint8Array): WrappedKey {
  const recipientX = recipientMontgomery(recipientEdPublicKey);
  let r: { ephemeral: Uint8Array; shared: Uint8Array };
  try {
    r = ephemeralShared(recipientX);
  } catch {
    throw smallOrderRecipient(recipientEdPublicKey);
  }
  return wrapWith(dataKey, recipientEdPublicKey, recipientX, r.ephemeral, r.shared);
}

/** An ephemeral X25519 key pair and its shared secret with u, through the sync backend. */
export function ephemeralShared(u: Uint8Array): { ephemeral: Uint8Array; shared: Uint8Array } {
  if (xBackend.ephemeralShared) return xBackend.ephemeralShared(u);
  const eph = random(32);
  return { ephemeral: xBackend.publicKey(eph), shared: xBackend.sharedSecret(eph, u) };
}

/**
 * wrapDataKey through the async backend (Web Crypto in a browser that has X25519), else the
 * sync one. Same format, same refusals (SEAL_BAD_RECIPIENT).
 */
export async function wrapDataKeyAsync(
  dataKey: Uint8Array,
  recipientEdPublicKey: Uint8Array,
): Promise<WrappedKey> {
  const b = asyncCryptoBackend();
  if (!b) return wrapDataKey(dataKey, recipientEdPublicKey);
  const recipientX = recipientMontgomery(recipientEdPublicKey);
  let r: { ephemeral: Uint8Array; shared: Uint8Array };
  try {
    r = await b.ephemeralShared(recipientX);
  } catch {
    throw smallOrderRecipient(recipientEdPublicKey);
  }
  return wrapWith(dataKey, recipientEdPublicKey, recipientX, r.ephemeral, r.shared);
}

export function unwrapDataKey(
  source: SealedPayload | WrappedKey[] | WrappedKey,
  edSecretKey: Uint8Array,
): Uint8Array {
  const me = publicKeyOf(edSecretKey);
  const keys = Array.isArray(source) ? source : 'keys' in source ? source.keys : [source];
  const mine = keys.find((k) => equalBytes(k.recipient, me));
  if (!mine) throw openFailed('no data key is wrapped for this key: ask the owner to share it');
  try {
    const xs = encryptionSecretKey(edSecretKey);
    const shared = xBackend.sharedSecret(xs, mine.ephemeral);
    const aad = concatBytes(mine.recipient, mine.ephemeral);
    return xchacha20poly1305(
      kek(shared, mine.ephemeral, xBackend.publicKey(xs)),
      ZERO_NONCE,
      aad,
    ).decrypt(mine.wrapped);
  } catch {
    throw openFailed('the wrapped data key does not open with this key (wrong key or tampered)');
  }
}

export function sealWithDataKey(
  plaintext: Uint8Array,
  dataKey: Uint8Array,
  recipients: Uint8Array[],
): SealedPayload {
  const nonce = random(24);
  const ciphertext = xchacha20poly1305(dataKey, nonce, DATA_AAD).encrypt(plaintext);
  return { ciphertext, nonce, keys: recipients.map((r) => wrapDataKey(dataKey, r)) };
}

/** sealWithDataKey with the data key wrapped through the async backend (wrapDataKeyAsync). */
export async function sealWithDataKeyAsync(
  plaintext: Uint8Array,
  dataKey: Uint8Array,
  recipients: Uint8Array[],
): Promise<SealedPayload> {
  const keys = await Promise.all(recipients.map((r) => wrapDataKeyAsync(dataKey, r)));
  return { ...sealWithDataKey(plaintext, dataKey, []), keys };
}

/** Encrypts for the given readers (Ed25519 account public keys). */
export function seal(plaintext: Uint8Array, recipientEdPublicKeys: Uint8Array[]): SealedPayload {
  if (recipientEdPublicKeys.length === 0) {
    throw new EhrError('SEAL_NO_RECIPIENTS', 'a sealed payload needs at least one reader', {});
  }
  return sealWithDataKey(plaintext, random(32), recipientEdPublicKeys);
}

export function openWithDataKey(sealed: SealedPayload, dataKey: Uint8Array): Uint8Array {
  try {
    return xchacha20poly1305(dataKey, sealed.nonce, DATA_AAD).decrypt(sealed.ciphertext);
  } catch {
    throw openFailed(
      'the payload does not decrypt with this data key (wrong key or tampered ciphertext)',
    );
  }
}

export function open(sealed: SealedPayload, edSecretKey: Uint8Array): Uint8Array {
  return openWithDataKey(sealed, unwrapDataKey(sealed, edSecretKey));
}

export function encodeWrappedKey(k: WrappedKey): Uint8Array {
  return encode({ recipient: k.recipient, ephemeral: k.ephemeral, wrapped: k.wrapped });
}

export function decodeWrappedKey(b: Uint8Array): WrappedKey {
  const m = expectMap(decode(b), 'wrappedKey');
  expectKeys(m, ['ephemeral', 'recipient', 'wrapped'], 'wrappedKey');
  return {
    recipient: expectBytes(m['recipient'], 'wrappedKey.recipient', 32),
    ephemeral: expectBytes(m['ephemeral'], 'wrappedKey.ephemeral', 32),
    wrapped: expectBytes(m['wrapped'], 'wrappedKey.wrapped', 48),
  };
}

export function encodeSealed(s: SealedPayload): Uint8Array {
  return encode({
    ciphertext: s.ciphertext,
    nonce: s.nonce,
    keys: s.keys.map((k) => ({
      recipient: k.recipient,
      ephemeral: k.ephemeral,
      wrapped: k.wrapped,
    })),
  });
}

export function decodeSealed(b: Uint8Array): SealedPayload {
  const m = expectMap(decode(b), 'sealed');
  expectKeys(m, ['ciphertext', 'keys', 'nonce'], 'sealed');
  return {
    ciphertext: expectBytes(m['ciphertext'], 'sealed.ciphertext'),
    nonce: expectBytes(m['nonce'], 'sealed.nonce', 24),
    keys: expectArray(m['keys'], 'sealed.keys').map((k, i) =>
      decodeWrappedKey(encode(expectMap(k, `sealed.keys[${i}]`))),
    ),
  };
}
