/**
 * What a node checks before it serves (the rest is the scrubber's, in the background): the head
 * record matches the last block, the last `blocks` blocks decode, link, are indexed by their
 * hash, carry their Merkle root and a valid proposer signature (block-check.ts; so does the
 * block below them), and their write sets continue the state-hash chain the headers commit to;
 * and the persisted consensus state reads back. The cost is proportional to the window (`blocks`,
 * and at most `maxBytes` of blocks), not to the chain. The first problem throws STORE_CORRUPT
 * naming the height, what is wrong and the store key (or STORE_DAMAGED for a read error).
 */
import { EhrError, equalBytes, sha256, taggedHash } from '@ehr/core';
import { genesisBlockHash, genesisStateHash, STATE_HASH_TAG } from '@ehr/ledger';
import { checkStoredBlock } from './block-check.ts';
import type { Store } from './store.ts';
import { explainDamage } from './walk.ts';

export interface RecentReport {
  height: number;
  /** Heights checked: from `from` to `height`. */
  from: number;
}

const corrupt = (height: number, what: string, key: string) =>
  new EhrError('STORE_CORRUPT', `store is corrupt at height ${height}: ${what}`, {
    height,
    what,
    key,
  });

/**
 * `blocks`: the last blocks checked at most; `maxBytes`: and no more block bytes than this (the
 * head block is checked whatever its size): a few large blocks cost as much as many small ones.
 */
export async function checkRecent(
  store: Store,
  blocks: number,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<RecentReport> {
  if (!Number.isInteger(blocks) || blocks < 1)
    throw new EhrError(
      'STORE_CHECK_OPTIONS',
      `blocks to check must be a positive integer, got ${blocks}`,
    );
  if (!Number.isInteger(maxBytes) || maxBytes < 1)
    throw new EhrError(
      'STORE_CHECK_OPTIONS',
      `bytes to check must be a positive integer, got ${maxBytes}`,
    );
  try {
    return await check(store, blocks, maxBytes);
  } catch (err) {
    throw explainDamage(store.db.dir, err);
  }
}

/**
 * The window: from `blocks` back from the head, fewer if `maxBytes` says so; with the bytes of
 * the blocks read to find it (so the check reads each once). A missing block is taken in: the
 * check names it.
 */
async function window(store: Store, blocks: number, maxBytes: number) {
  const head = store.head().height;
  const lowest = Math.max(1, head - blocks + 1);
  const read = new Map<number, Uint8Array | undefined>();
  let bytes = 0;
  let from = head;
  for (let h = head; h >= lowest; h--) {
    const b = await store.blockBytes(h);
    read.set(h, b);
    if (!b) return { from: h, read };
    if (h < head && bytes + b.length > maxBytes) break;
    bytes += b.length;
    from = h;
  }
  return { from, read };
}

async function check(store: Store, blocks: number, maxBytes: number): Promise<RecentReport> {
  const head = store.head();
  // The consensus state must read back (it decodes, or this throws naming it).
  await store.raft.hardState();
  if (head.height === 0) {
    if (!equalBytes(head.hash, genesisBlockHash(store.genesis)))
      throw corrupt(0, 'head record does not match the genesis', 'meta/head');
    return { height: 0, from: 0 };
  }
  const { from, read } = await window(store, blocks, maxBytes);
  const blockAt = (h: number) => (read.has(h) ? read.get(h) : store.blockBytes(h));
  let prevHash: Uint8Array;
  let prevState: Uint8Array;
  if (from === 1) {
    prevHash = genesisBlockHash(store.genesis);
    prevState = genesisStateHash(store.genesis);
  } else {
    // The block below the window is read for its hash and state hash: it is checked as well
    // (all but its own link, which is the scrubber's).
    const at = `blockByHeight/${from - 1}`;
    const before = await blockAt(from - 1);
    if (!before) throw corrupt(from - 1, 'block is missing', at);
    const checked = checkStoredBlock(before, {
      height: from - 1,
      chainId: store.genesis.chainId,
    });
    if (!checked.ok) throw corrupt(from - 1, checked.what, at);
    prevHash = checked.hash;
    prevState = checked.block.header.stateHash;
  }
  for (let h = from; h <= head.height; h++) {
    const at = `blockByHeight/${h}`;
    const bytes = await blockAt(h);
    if (!bytes) throw corrupt(h, 'block is missing', at);
    const checked = checkStoredBlock(bytes, {
      height: h,
      chainId: store.genesis.chainId,
      prevHash,
    });
    if (!checked.ok) throw corrupt(h, checked.what, at);
    const { hash } = checked;
    const hd = checked.block.header;
    if ((await store.heightOf(hash)) !== h)
      throw corrupt(h, 'block-hash index does not point here', at);
    const ws = await store.writeSetBytes(h);
    if (!ws) throw corrupt(h, 'write set is missing', `writeSet/${h}`);
    if (!equalBytes(taggedHash(STATE_HASH_TAG, prevState, sha256(ws)), hd.stateHash))
      throw corrupt(
        h,
        'state hash chain does not match the header (write set altered)',
        `writeSet/${h}`,
      );
    prevHash = hash;
    prevState = hd.stateHash;
  }
  if (!equalBytes(head.hash, prevHash) || !equalBytes(head.stateHash, prevState)) {
    throw corrupt(head.height, 'head record does not match the last block', 'meta/head');
  }
  return { height: head.height, from };
}
