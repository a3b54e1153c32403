/**
 * The asynchronous crypto backend: Web Crypto's X25519 and Ed25519 where the platform has them
 * (current browsers; also Node), noble where it does not. No `node:` import (browser entry).
 * Web Crypto only answers asynchronously, so it serves the async operations (sealAsync,
 * signTxAsync); the sync ones keep their backend. Support is probed once, by computing a known
 * answer; whatever Web Crypto declines to take (it may refuse to import a key noble accepts) is
 * computed by noble, so the results are noble's by construction and, where Web Crypto runs,
 * held to noble's bytes by tests (test/native-crypto.test.ts).
 */
import { x25519 } from '@noble/curves/ed25519.js';
import { concatBytes, equalBytes, fromHex } from './bytes.ts';
import { type AsyncCryptoBackend, useAsyncCryptoBackend } from './crypto-async.ts';
import { randomBytes } from './random.ts';
import { nobleX25519 } from './seal.ts';
import { signNoble } from './signature.ts';

const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');
const ED25519_PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');

type Subtle = (typeof globalThis.crypto)['subtle'];
type Key = Awaited<ReturnType<Subtle['importKey']>>;
const subtle = (): Subtle | undefined => globalThis.crypto?.subtle;

/** A copy in a fresh ArrayBuffer (Web Crypto's BufferSource). */
const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

function need32(b: Uint8Array, what: string): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) {
    throw new Error(`an X25519/Ed25519 ${what} is 32 bytes, not ${b?.length}`);
  }
}

async function deriveWebCrypto(s: Subtle, secret: Uint8Array, u: Uint8Array): Promise<Uint8Array> {
  const priv = await s.importKey(
    'pkcs8',
    buf(concatBytes(X25519_PKCS8_PREFIX, secret)),
    { name: 'X25519' },
    false,
    ['deriveBits'],
  );
  const pub = await s.importKey('raw', buf(u), { name: 'X25519' }, false, []);
  return new Uint8Array(await s.deriveBits({ name: 'X25519', public: pub }, priv, 256));
}

async function signWebCrypto(s: Subtle, message: Uint8Array, secret: Uint8Array) {
  const key = await s.importKey(
    'pkcs8',
    buf(concatBytes(ED25519_PKCS8_PREFIX, secret)),
    { name: 'Ed25519' },
    false,
    ['sign'],
  );
  return new Uint8Array(await s.sign({ name: 'Ed25519' }, key, buf(message)));
}

/** RFC 7748 section 5.2 and RFC 8032 test 1: the platform must give these exact bytes. */
async function probe(s: Subtle): Promise<{ x25519: boolean; ed25519: boolean }> {
  const k = fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4');
  const u = fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c');
  const edSecret = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const [x, e] = await Promise.all([
    deriveWebCrypto(s, k, u).then(
      (r) => equalBytes(r, x25519.getSharedSecret(k, u)),
      () => false,
    ),
    signWebCrypto(s, new Uint8Array(0), edSecret).then(
      (r) => equalBytes(r, signNoble(new Uint8Array(0), edSecret)),
      () => false,
    ),
  ]);
  return { x25519: x, ed25519: e };
}

let support: Promise<{ x25519: boolean; ed25519: boolean }> | undefined;

/** What Web Crypto does here, probed once (false/false without Web Crypto). */
export function webCryptoSupport(): Promise<{ x25519: boolean; ed25519: boolean }> {
  const s = subtle();
  support ??= s ? probe(s) : Promise.resolve({ x25519: false, ed25519: false });
  return support;
}

export async function x25519SharedSecretWebCrypto(
  secret: Uint8Array,
  publicKey: Uint8Array,
): Promise<Uint8Array> {
  need32(secret, 'secret key');
  need32(publicKey, 'public key');
  const s = subtle();
  if (!s || !(await webCryptoSupport()).x25519) return nobleX25519.sharedSecret(secret, publicKey);
  let shared: Uint8Array;
  try {
    shared = await deriveWebCrypto(s, secret, publicKey);
  } catch {
    // Declined (a low-order or otherwise unusual u): noble decides, refusing what it refuses.
    return nobleX25519.sharedSecret(secret, publicKey);
  }
  if (shared.every((b) => b === 0)) throw new Error('X25519: low-order public key');
  return shared;
}

export async function signWithWebCrypto(
  message: Uint8Array,
  secretKey: Uint8Array,
): Promise<Uint8Array> {
  need32(secretKey, 'secret key');
  const s = subtle();
  if (!s || !(await webCryptoSupport()).ed25519) return signNoble(message, secretKey);
  return signWebCrypto(s, message, secretKey);
}

/** noble's way: a random ephemeral secret, its public key, the shared secret. */
function ephemeralSharedNoble(u: Uint8Array): { ephemeral: Uint8Array; shared: Uint8Array } {
  const eph = new Uint8Array(randomBytes(32));
  return { ephemeral: nobleX25519.publicKey(eph), shared: nobleX25519.sharedSecret(eph, u) };
}

/**
 * An ephemeral key pair made by Web Crypto (its secret never leaves it) and the shared secret
 * with `u`; noble's way where Web Crypto is missing or declines `u`.
 */
export async function ephemeralSharedWebCrypto(
  u: Uint8Array,
): Promise<{ ephemeral: Uint8Array; shared: Uint8Array }> {
  need32(u, 'public key');
  const s = subtle();
  if (!s || !(await webCryptoSupport()).x25519) return ephemeralSharedNoble(u);
  let shared: Uint8Array;
  let ephemeral: Uint8Array;
  try {
    // An X25519 generateKey answers a key pair (the DOM and Node typings differ on how they say so).
    const pair = (await s.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as unknown as {
      publicKey: Key;
      privateKey: Key;
    };
    ephemeral = new Uint8Array(await s.exportKey('raw', pair.publicKey));
    const pub = await s.importKey('raw', buf(u), { name: 'X25519' }, false, []);
    shared = new Uint8Array(
      await s.deriveBits({ name: 'X25519', public: pub }, pair.privateKey, 256),
    );
  } catch {
    return ephemeralSharedNoble(u);
  }
  if (shared.every((b) => b === 0)) throw new Error('X25519: low-order public key');
  return { ephemeral, shared };
}

export const webCryptoBackend: AsyncCryptoBackend = {
  name: 'webcrypto',
  ephemeralShared: ephemeralSharedWebCrypto,
  sign: signWithWebCrypto,
};

useAsyncCryptoBackend(webCryptoBackend);
