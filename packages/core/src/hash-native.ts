/**
 * The native SHA-256 (node:crypto, OpenSSL): Node only. Importing this module installs it as
 * sha256's backend (the Node entry, index.ts, does); browsers keep noble.
 */
import { createHash } from 'node:crypto';
import { useHashBackend } from './hash.ts';

export function sha256Native(data: Uint8Array): Uint8Array {
  // A copy: a plain Uint8Array (not a Buffer), never a view into a shared pool.
  return new Uint8Array(createHash('sha256').update(data).digest());
}

useHashBackend(sha256Native);
