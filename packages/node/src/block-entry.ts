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
  const { block, blockBytes, bodies } = decodeEntry(data);
  const payloads = new Map<string, Uint8Array>();
  for (const [i, p] of bodies.entries()) {
    const body = expectBytes(p, `entry.payloads[${i}]`);
    payloads.set(toHex(sha256(body)), body);
  }
  return { block, blockBytes, payloads };
}

/**
 * Only the block of an entry (its header checked and hashed by the engine on every append):
 * the bodies beside it, megabytes of them, are not hashed.
 */
export function decodeBlockEntryBlock(data: Uint8Array): Pick<BlockEntry, 'block' | 'blockBytes'> {
  const { block, blockBytes } = decodeEntry(data);
  return { block, blockBytes };
}

/** An entry's block and its bodies in the order they travel (compact-entry.ts rebuilds it). */
export function decodeBlockEntryParts(data: Uint8Array): {
  block: Block;
  blockBytes: Uint8Array;
  bodies: Uint8Array[];
} {
  const { block, blockBytes, bodies } = decodeEntry(data);
  return {
    block,
    blockBytes,
    bodies: bodies.map((p, i) => expectBytes(p, `entry.payloads[${i}]`)),
  };
}

function decodeEntry(data: Uint8Array) {
  if (data[0] !== CODEC_VERSION)
    throw new EncodingError(`unsupported block entry version ${data[0]}`);
  const m = expectMap(decode(data.subarray(1)), 'entry');
  expectKeys(m, ['block', 'payloads'], 'entry');
  const blockBytes = expectBytes(m['block'], 'entry.block');
  const bodies = expectArray(m['payloads'], 'entry.payloads');
  return { block: decodeBlock(blockBytes), blockBytes, bodies };
}

export { encodeBlock };
