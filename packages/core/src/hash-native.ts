/**
 * The native SHA-256 (node:crypto, OpenSSL): Node only. Importing this module installs it as the
 * backend of sha256/taggedHash (the Node entry, index.ts, does); browsers keep noble. The bytes
 * are the same (tested); a daemon hashes every transaction and body it sees, several times.
 */
import { hash } from 'node:crypto';
import { useSha256 } from './hash.ts';

export function sha256Native(data: Uint8Array): Uint8Array {
  // A copy: the Buffer may sit in Node's shared pool.
  return new Uint8Array(hash('sha256', data, 'buffer'));
}

useSha256(sha256Native);
