/**
 * A page of block headers, newest first, verified as everything a node serves is (served.ts):
 * each header record must decode, be of this chain and height, and hash to the block hash the
 * store indexed at that height (the hash index is written in the block's batch); within the page
 * each header links to the next one down. A record altered on disk is refused with STORE_CORRUPT
 * naming the height, never served. A store without header records (written before they were
 * kept, until Store.open backfills them) is read from the blocks, verified whole.
 */
import {
  type BlockHeader,
  blockHash,
  decodeBlock,
  decodeHeader,
  EhrError,
  equalBytes,
  sha256,
} from '@ehr/core';
import { resyncAdvice } from './raft-marker.ts';
import { servedBlockBytes } from './served.ts';
import type { Store } from './store.ts';

export interface ServedHeader {
  height: number;
  hash: Uint8Array;
  header: BlockHeader;
}

function refused(store: Store, height: number, what: string): EhrError {
  const dir = store.db.dir;
  return new EhrError(
    'STORE_CORRUPT',
    `the stored header of block ${height} ${what}; it is not served. The store at ${dir} is damaged: stop the node and run \`ehr node verify --dir ${dir}\`. ${resyncAdvice(dir)}.`,
    { height, what, key: `blockHeader/${height}`, dir },
  );
}

/** One header, verified against the hash index; undefined when there is no block there. */
async function servedHeader(store: Store, height: number): Promise<ServedHeader | undefined> {
  const bytes = await store.headerBytes(height);
  if (!bytes) {
    const block = await servedBlockBytes(store, height);
    if (!block) return undefined;
    const header = decodeBlock(block).header;
    return { height, hash: blockHash(header), header };
  }
  let header: BlockHeader;
  try {
    header = decodeHeader(bytes);
  } catch (err) {
    throw refused(store, height, `does not decode (${(err as Error).message})`);
  }
  if (header.height !== height) throw refused(store, height, `says height ${header.height}`);
  if (header.chainId !== store.genesis.chainId)
    throw refused(store, height, `is for chain ${header.chainId}`);
  // The record is the header's encoding: its SHA-256 is the block hash.
  const hash = sha256(bytes);
  if ((await store.heightOf(hash)) !== height)
    throw refused(
      store,
      height,
      'does not match its hash (the block-hash index does not point here)',
    );
  return { height, hash, header };
}

/**
 * Headers from `from` down, at most `limit` of them (fewer at height 1). Throws STORE_CORRUPT
 * for a record that is altered or missing below the head.
 */
export async function servedHeaders(
  store: Store,
  from: number,
  limit: number,
): Promise<ServedHeader[]> {
  const out: ServedHeader[] = [];
  for (let h = from; h >= 1 && out.length < limit; h--) {
    const got = await servedHeader(store, h);
    if (!got) throw refused(store, h, 'is missing (and so is the block)');
    const above = out.at(-1);
    if (above && !equalBytes(above.header.prevHash, got.hash))
      throw refused(store, h, `is not the block that block ${h + 1} links to`);
    out.push(got);
  }
  return out;
}
