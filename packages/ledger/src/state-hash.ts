/**
 * State hash: a chain over write sets. After block N,
 *   stateHash_N = taggedHash('ehr-ledger/state/v1', stateHash_{N-1}, sha256(encode(writes_N)))
 * where writes_N is the block's write set ordered by key (UTF-8 bytes), encoded canonically as
 * an array of [key, value-or-null] pairs. Genesis chains from 32 zero bytes. Two nodes whose
 * states ever diverge produce different hashes from then on, so they can never agree on a header.
 */
import { encode, sha256, taggedHash, type Value, ZERO_HASH } from '@ehr/core';
import { compareKeys, type WriteSet } from './state.ts';

export const STATE_HASH_TAG = 'ehr-ledger/state/v1';

/** Canonical bytes of a write set (sorted by key; duplicate keys are a bug and throw). */
export function encodeWriteSet(writes: WriteSet): Uint8Array {
  const sorted = [...writes].sort((a, b) => compareKeys(a[0], b[0]));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]![0] === sorted[i - 1]![0]) {
      throw new Error(`write set has key ${sorted[i]![0]} twice`);
    }
  }
  return encode(sorted.map(([k, v]): Value => [k, v]));
}

export function writeSetHash(writes: WriteSet): Uint8Array {
  return sha256(encodeWriteSet(writes));
}

export function stateHashAfter(prevStateHash: Uint8Array, writes: WriteSet): Uint8Array {
  return taggedHash(STATE_HASH_TAG, prevStateHash, writeSetHash(writes));
}

/** The state hash genesis chains from. */
export const EMPTY_STATE_HASH: Uint8Array = ZERO_HASH;
