/**
 * SHA-256 (@noble/hashes, or node:crypto's once the Node entry installed it); domain tags keep
 * hashes of different things apart.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.ts';

export const HASH_LENGTH = 32;

let backend: (data: Uint8Array) => Uint8Array = nobleSha256;

/** Installs another SHA-256 (the Node entry installs node:crypto's; see hash-native.ts). */
export function useSha256(fn: (data: Uint8Array) => Uint8Array): void {
  backend = fn;
}

export function sha256(data: Uint8Array): Uint8Array {
  return backend(data);
}

/** SHA-256 through @noble/hashes, whatever backend is installed (tests compare the two). */
export function sha256Noble(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** SHA-256 over a domain tag followed by the data. */
export function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = utf8(tag);
  return backend(concatBytes(new Uint8Array([t.length]), t, ...parts));
}
