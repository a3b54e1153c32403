/**
 * Integrity verification: re-derives every block hash and link, Merkle root, proposer and
 * transaction signature, receipt, payload hash and the state-hash chain from the stored write
 * sets, then checks that the live state equals the replay of those write sets. Stops at the first
 * problem and names its height and what is wrong (EhrError STORE_CORRUPT).
 */
import {
  blockHash,
  checkBlockBody,
  compareBytes,
  decode,
  decodeBlock,
  decodeTx,
  EhrError,
  encode,
  equalBytes,
  isEhrError,
  sha256,
  taggedHash,
  toHex,
  txHash,
  type Value,
  verifyBlockSignature,
  verifyTxSignature,
  ZERO_HASH,
} from '@ehr/core';
import { genesisBlockHash, genesisStateHash, keys, STATE_HASH_TAG } from '@ehr/ledger';
import { Bucket } from './buckets.ts';
import { damagedFiles, storeDamaged } from './damage.ts';
import { resyncAdvice } from './raft-marker.ts';
import { stateKey } from './state-repo.ts';
import type { Store } from './store.ts';

export interface VerifyReport {
  height: number;
  blocks: number;
  txs: number;
  payloads: number;
  stateKeys: number;
}

function corrupt(height: number, what: string): EhrError {
  return new EhrError('STORE_CORRUPT', `store is corrupt at height ${height}: ${what}`, {
    height,
    what,
  });
}

/**
 * Names the data directory, the damaged file when a checksum finds it, and the recovery in
 * every refusal; an error LevelDB raised while reading becomes STORE_DAMAGED.
 */
function explain(dir: string, err: unknown): EhrError {
  if (!isEhrError(err, 'STORE_CORRUPT')) return storeDamaged(dir, err, 'verified');
  const files = damagedFiles(dir);
  return new EhrError(
    'STORE_CORRUPT',
    `the store at ${dir}: ${err.message}${files ? ` (${files})` : ''}. ${resyncAdvice(dir)}.`,
    { ...(err.data as object), dir },
  );
}

function decodeWriteSet(bytes: Uint8Array, height: number): [string, Value | null][] {
  let v: Value;
  try {
    v = decode(bytes);
  } catch (err) {
    throw corrupt(height, `write set does not decode (${(err as Error).message})`);
  }
  if (!Array.isArray(v)) throw corrupt(height, 'write set is not a list');
  return v.map((pair) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string') {
      throw corrupt(height, 'write set entry is not a [key, value] pair');
    }
    return [pair[0], pair[1] as Value | null];
  });
}

export async function verifyStore(
  store: Store,
  onProgress?: (height: number, target: number) => void,
): Promise<VerifyReport> {
  try {
    return await verify(store, onProgress);
  } catch (err) {
    throw explain(store.db.dir, err);
  }
}

async function verify(
  store: Store,
  onProgress?: (height: number, target: number) => void,
): Promise<VerifyReport> {
  const head = store.head();
  const replay = new Map<string, Value>();
  /** Height at which each payload was first referenced, to name it when its body is bad. */
  const payloadHeight = new Map<string, number>();
  let applying = 0;
  const apply = (ws: [string, Value | null][]) => {
    for (const [k, v] of ws) {
      if (v === null) replay.delete(k);
      else replay.set(k, v);
      if (k.startsWith('payload/') && !payloadHeight.has(k)) payloadHeight.set(k, applying);
    }
  };
  const ws0 = await store.writeSetBytes(0);
  if (!ws0) throw corrupt(0, 'genesis write set is missing');
  let stateHash = taggedHash(STATE_HASH_TAG, ZERO_HASH, sha256(ws0));
  if (!equalBytes(stateHash, genesisStateHash(store.genesis))) {
    throw corrupt(0, 'genesis write set does not match the genesis document');
  }
  apply(decodeWriteSet(ws0, 0));
  let prevHash = genesisBlockHash(store.genesis);
  let txs = 0;
  for (let h = 1; h <= head.height; h++) {
    const bytes = await store.blockBytes(h);
    if (!bytes) throw corrupt(h, 'block is missing');
    let block: ReturnType<typeof decodeBlock>;
    try {
      block = decodeBlock(bytes);
    } catch (err) {
      throw corrupt(h, `block does not decode (${(err as Error).message})`);
    }
    const hd = block.header;
    if (hd.height !== h) throw corrupt(h, `block says height ${hd.height}`);
    if (hd.chainId !== store.genesis.chainId) throw corrupt(h, `block is for chain ${hd.chainId}`);
    if (!equalBytes(hd.prevHash, prevHash)) throw corrupt(h, 'previous-block hash does not link');
    const hash = blockHash(hd);
    if ((await store.heightOf(hash)) !== h)
      throw corrupt(h, 'block-hash index does not point here');
    const body = checkBlockBody(block);
    if (body) throw corrupt(h, body);
    if (!verifyBlockSignature(block)) throw corrupt(h, 'proposer signature does not verify');
    const member = replay.get(keys.member(toHex(hd.proposer)));
    if (!member || (member as { role?: string }).role !== 'validator') {
      throw corrupt(h, `proposer ${toHex(hd.proposer).slice(0, 12)}… was not a validator`);
    }
    for (let i = 0; i < block.txs.length; i++) {
      const txBytes = block.txs[i]!;
      let ok = false;
      try {
        ok = verifyTxSignature(decodeTx(txBytes));
      } catch {
        ok = false;
      }
      if (!ok) throw corrupt(h, `transaction ${i} does not decode or verify`);
      const r = await store.receipt(txHash(txBytes)).catch(() => undefined);
      if (!r || r.height !== h || r.index !== i)
        throw corrupt(h, `receipt of transaction ${i} is missing or wrong`);
      txs++;
    }
    const ws = await store.writeSetBytes(h);
    if (!ws) throw corrupt(h, 'write set is missing');
    stateHash = taggedHash(STATE_HASH_TAG, stateHash, sha256(ws));
    if (!equalBytes(stateHash, hd.stateHash)) {
      throw corrupt(h, 'state hash chain does not match the header (write set altered)');
    }
    applying = h;
    apply(decodeWriteSet(ws, h));
    prevHash = hash;
    if (onProgress && h % 1000 === 0) onProgress(h, head.height);
  }
  if (!equalBytes(head.hash, prevHash) || !equalBytes(head.stateHash, stateHash)) {
    throw corrupt(head.height, 'head record does not match the last block');
  }
  // The live state must be exactly the replay of the write sets.
  const expected = [...replay.entries()]
    .map(([k, v]) => [stateKey(k), encode(v)] as const)
    .sort((a, b) => compareBytes(a[0], b[0]));
  let i = 0;
  for await (const [k, v] of store.db.range(new Uint8Array([Bucket.state]))) {
    const want = expected[i++];
    if (!want || !equalBytes(want[0], k)) {
      throw corrupt(
        head.height,
        `state key ${new TextDecoder().decode(k.subarray(1))} is not explained by any block`,
      );
    }
    if (!equalBytes(want[1], v)) {
      throw corrupt(
        head.height,
        `state value of ${new TextDecoder().decode(k.subarray(1))} was altered`,
      );
    }
  }
  if (i !== expected.length) throw corrupt(head.height, 'state entries are missing');
  let payloads = 0;
  for await (const [k, v] of store.db.range(new Uint8Array([Bucket.payload]))) {
    if (!equalBytes(sha256(v), k.subarray(1))) {
      const at = payloadHeight.get(keys.payload(toHex(k.subarray(1))));
      throw corrupt(
        at ?? head.height,
        `payload ${toHex(k.subarray(1)).slice(0, 12)}… does not match its hash`,
      );
    }
    payloads++;
  }
  return { height: head.height, blocks: head.height, txs, payloads, stateKeys: expected.length };
}
