/**
 * Block announcements (gossip topic `blocks`): the leader publishes height, hash and state hash
 * of each block it applies. A node judges one against the block it holds: contradicting it at
 * that height is a lie or a fork (reject, penalizing the relay); old news is ignored (not
 * relayed); news of a higher block is accepted and relayed.
 */
import { MAX_LOG_POSITION } from '@ehr/consensus';
import {
  decode,
  EhrError,
  encode,
  equalBytes,
  expectBytes,
  expectInteger,
  expectKeys,
  expectMap,
} from '@ehr/core';

export interface BlockAnnouncement {
  height: number;
  hash: Uint8Array;
  stateHash: Uint8Array;
}

export function encodeAnnouncement(a: BlockAnnouncement): Uint8Array {
  return encode({ height: a.height, hash: a.hash, stateHash: a.stateHash });
}

export function decodeAnnouncement(bytes: Uint8Array): BlockAnnouncement {
  const m = expectMap(decode(bytes), 'block announcement');
  expectKeys(m, ['hash', 'height', 'stateHash'], 'block announcement');
  return {
    height: expectHeight(m['height']),
    hash: expectBytes(m['hash'], 'hash', 32),
    stateHash: expectBytes(m['stateHash'], 'stateHash', 32),
  };
}

function expectHeight(v: Parameters<typeof expectInteger>[0]): number {
  const h = expectInteger(v, 'height', 1);
  if (h > MAX_LOG_POSITION) {
    throw new EhrError('OUT_OF_RANGE', `height ${h} is beyond ${MAX_LOG_POSITION}`, { height: h });
  }
  return h;
}

export type Verdict = 'accept' | 'reject' | 'ignore';

/** `head`: this node's last block; `known`: the highest height announced so far. */
export function judgeAnnouncement(
  bytes: Uint8Array,
  head: { height: number; hash: Uint8Array; stateHash: Uint8Array },
  known: number,
): { verdict: Verdict; announcement?: BlockAnnouncement; contradicts?: boolean } {
  let a: BlockAnnouncement;
  try {
    a = decodeAnnouncement(bytes);
  } catch {
    return { verdict: 'reject' };
  }
  if (
    a.height === head.height &&
    (!equalBytes(a.hash, head.hash) || !equalBytes(a.stateHash, head.stateHash))
  ) {
    return { verdict: 'reject', announcement: a, contradicts: true };
  }
  if (a.height <= known) return { verdict: 'ignore', announcement: a };
  return { verdict: 'accept', announcement: a };
}
