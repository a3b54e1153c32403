/** SHA-256 through @noble/hashes; domain tags keep hashes of different things apart. */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.ts';

export const HASH_LENGTH = 32;

export function sha256(data: Uint8Array): Uint8Array {
  return nobleSha256(data);
}

/** SHA-256 over a domain tag followed by the data. */
export function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  const t = utf8(tag);
  return nobleSha256(concatBytes(new Uint8Array([t.length]), t, ...parts));
}
