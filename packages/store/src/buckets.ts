/**
 * One LevelDB, many buckets: every key starts with its bucket's byte. Retired ids are listed
 * and never reused, so an old database can never be misread by a newer node.
 */
export const Bucket = {
  meta: 0x01,
  blockByHeight: 0x02,
  heightByHash: 0x03,
  txByHash: 0x04,
  payload: 0x05,
  state: 0x06,
  writeSet: 0x07,
  raftLog: 0x08,
  raftState: 0x09,
  /** Payload hash -> raft index of the entry that carried its body (for erasure). */
  payloadEntry: 0x0a,
  /** Query indexes derived from the state (`qx/...` keys; see @ehr/ledger query-index.ts). */
  queryIndex: 0x0b,
  /**
   * Raft index -> what rebuilds an applied consensus entry once the log compacted it away (its
   * term and type; a block's height and the payload hashes it carried, a config change's data):
   * no body, the block store keeps the one copy.
   */
  raftStub: 0x0c,
  /**
   * Height -> the block's header (encodeHeader; its SHA-256 is the block hash), written in the
   * block's batch: lists of blocks read a few hundred bytes per block, not the block.
   */
  blockHeader: 0x0d,
} as const;
export type Bucket = (typeof Bucket)[keyof typeof Bucket];

/** Ids that were used once and must stay unused. */
export const RETIRED_BUCKETS: readonly number[] = [];

export function key(bucket: Bucket, suffix: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + suffix.length);
  k[0] = bucket;
  k.set(suffix, 1);
  return k;
}

/** Big-endian so LevelDB's byte order is numeric order. */
export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

export function readU64(b: Uint8Array, offset = 0): number {
  return Number(new DataView(b.buffer, b.byteOffset, b.byteLength).getBigUint64(offset));
}

/** The smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
}
