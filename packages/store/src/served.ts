/**
 * Reads that verify what they return, for everything a node serves (the gateway's chain methods,
 * blocks served to peers, payload bodies): a block must pass block-check.ts (decode, be the block
 * of that height for this chain, carry the Merkle root of its transactions and a proposer
 * signature that verifies), be indexed under its own hash and name as its previous block the one
 * indexed at the height below; a payload body must hash to the key it is stored under.
 * Altered bytes are never served: the read throws STORE_CORRUPT naming the height (or payload),
 * what is wrong and the recovery, and the caller answers with that error instead.
 */
import { EhrError, equalBytes, fromHex, sha256, toHex } from '@ehr/core';
import { genesisBlockHash } from '@ehr/ledger';
import { checkStoredBlock } from './block-check.ts';
import { resyncAdvice } from './raft-marker.ts';
import type { Store } from './store.ts';

function refused(store: Store, what: string, data: Record<string, unknown>): EhrError {
  return new EhrError(
    'STORE_CORRUPT',
    `${what}; it is not served. The store at ${store.db.dir} is damaged: stop the node and run \`ehr node verify --dir ${store.db.dir}\`. ${resyncAdvice(store.db.dir)}.`,
    { ...data, dir: store.db.dir },
  );
}

/**
 * Why stored block bytes are not the block at `height`, or undefined when they are: the checks
 * of block-check.ts, then the store's own links: the block is indexed under its hash, and the
 * previous-block hash it names is the hash indexed at `height - 1` (the genesis hash at 1).
 */
export async function blockProblem(
  store: Store,
  height: number,
  bytes: Uint8Array,
): Promise<string | undefined> {
  const checked = checkStoredBlock(bytes, { height, chainId: store.genesis.chainId });
  if (!checked.ok) return checked.what;
  if ((await store.heightOf(checked.hash)) !== height)
    return 'block-hash index does not point here';
  const prev = checked.block.header.prevHash;
  const links =
    height === 1
      ? equalBytes(prev, genesisBlockHash(store.genesis))
      : (await store.heightOf(prev)) === height - 1;
  if (!links) return 'previous-block hash does not link';
  return undefined;
}

/** The block at `height` as stored, verified; undefined when there is none. */
export async function servedBlockBytes(
  store: Store,
  height: number,
): Promise<Uint8Array | undefined> {
  const bytes = await store.blockBytes(height);
  if (!bytes) return undefined;
  const problem = await blockProblem(store, height, bytes);
  if (problem)
    throw refused(store, `the stored block at height ${height} is damaged (${problem})`, {
      height,
      what: problem,
      key: `blockByHeight/${height}`,
    });
  return bytes;
}

/** A payload body as stored, verified against its hash; undefined when there is none. */
export async function servedPayload(
  store: Store,
  hashHex: string,
): Promise<Uint8Array | undefined> {
  const body = await store.payload(hashHex);
  if (!body) return undefined;
  const got = sha256(body);
  if (hashHex.length !== 64 || !equalBytes(got, fromHex(hashHex)))
    throw refused(
      store,
      `the stored body of payload ${hashHex.slice(0, 12)}… does not match its hash (it hashes to ${toHex(got).slice(0, 12)}…)`,
      { payload: hashHex, key: `payload/${hashHex}` },
    );
  return body;
}
