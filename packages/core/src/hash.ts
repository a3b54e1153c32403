/**
 * SHA-256; domain tags keep hashes of different things apart. @noble/hashes by default (the
 * browser); the Node entry installs node:crypto's (hash-native.ts), an order of magnitude
 * faster on multi-MiB document bodies. Both give the same bytes (test/hash.test.ts).
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.ts';

export const HASH_LENGTH = 32;

let backend: (data: Uint8Array) => Uint8Array = nobleSha256;

/** Installs the SHA-256 implementation (hash-native.ts does, for Node). */
export function useHashBackend(fn: (data: Uint8Array) => Uint8Array): void {
  backend = fn;
}

export function sha256(data: Uint8Array): Uint8Array {
  return backend(data);
}

/** SHA-256 over a domain tag followed by the data. */
export function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = utf8(tag);
  return backend(concatBytes(new Uint8Array([t.length]), t, ...parts));
}
