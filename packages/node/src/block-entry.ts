/**
 * What a consensus block entry carries: the block, and beside it the payload bodies its
 * transactions reference (health data is kept apart from block bodies so it can be erased while
 * every block still verifies; it still has to travel with the block to reach every node).
 */
import {
  type Block,
  CODEC_VERSION,
  concatBytes,
  decode,
  decodeBlock,
  EncodingError,
  encode,
  encodeBlock,
  expectArray,
  expectBytes,
  expectKeys,
  expectMap,
  sha256,
  toHex,
} from '@ehr/core';

export interface BlockEntry {
  block: Block;
  /** Encoded block bytes (kept to avoid re-encoding). */
  blockBytes: Uint8Array;
  payloads: Map<string, Uint8Array>;
}

export function encodeBlockEntry(
  blockBytes: Uint8Array,
  payloads: Iterable<Uint8Array>,
): Uint8Array {
  return concatBytes(
    new Uint8Array([CODEC_VERSION]),
    encode({ block: blockBytes, payloads: [...payloads] }),
  );
}

export function decodeBlockEntry(data: Uint8Array): BlockEntry {
  if (data[0] !== CODEC_VERSION)
    throw new EncodingError(`unsupported block entry version ${data[0]}`);
  const m = expectMap(decode(data.subarray(1)), 'entry');
  expectKeys(m, ['block', 'payloads'], 'entry');
  const blockBytes = expectBytes(m['block'], 'entry.block');
  const payloads = new Map<string, Uint8Array>();
  for (const [i, p] of expectArray(m['payloads'], 'entry.payloads').entries()) {
    const body = expectBytes(p, `entry.payloads[${i}]`);
    payloads.set(toHex(sha256(body)), body);
  }
  return { block: decodeBlock(blockBytes), blockBytes, payloads };
}

export { encodeBlock };
