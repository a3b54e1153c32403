/** Builds real signed blocks of EHR transactions on a Store, as a leader would. */
import {
  blockHash,
  encodeBlock,
  encodeTx,
  publicKeyOf,
  sha256,
  signBlock,
  signTx,
  toHex,
  txRootOf,
  utf8,
  type ValueMap,
} from '@ehr/core';
import { BlockBuilder, makeGenesis } from '@ehr/ledger';
import type { Store } from '../src/store.ts';

export const CHAIN_ID = 'store-test';

export function testKeys(seed: number) {
  const k = (n: number) => sha256(utf8(`store-test key ${seed} ${n}`));
  return { admin: k(1), node: k(2), patient: k(3) };
}

export function testGenesis(keys: ReturnType<typeof testKeys>) {
  return makeGenesis({
    chainId: CHAIN_ID,
    genesisTime: 1_700_000_000_000,
    admins: [publicKeyOf(keys.admin)],
    validators: [publicKeyOf(keys.node)],
  });
}

function tx(secret: Uint8Array, nonce: number, kind: string, payload: ValueMap): Uint8Array {
  return encodeTx(
    signTx({ chainId: CHAIN_ID, author: publicKeyOf(secret), nonce, kind, payload }, secret),
  );
}

export function hospitalTx(admin: Uint8Array, nonce: number, id: string): Uint8Array {
  return tx(admin, nonce, 'hospital.register', {
    id,
    name: `${id} hospital`,
    address: '1 road',
    specializations: ['cardiology'],
    contact: 'desk@example.org',
    nodes: [],
    encryptionKey: sha256(utf8(id)),
  });
}

export function patientTx(patient: Uint8Array, profile: Uint8Array): Uint8Array {
  return tx(patient, 0, 'patient.register', {
    profileHash: sha256(profile),
    profileSize: profile.length,
    profileKey: new Uint8Array(80).fill(7),
  });
}

/**
 * Builds the next block of `txs` on `store` through the ledger's rules (BlockBuilder), signs it
 * as `proposer` and commits it as a node's apply path does (bodies the block does not name are
 * dropped). Throws naming the first transaction refused. Used by these tests and by the chain
 * generator (scripts/bench/gen-chain.ts).
 */
export async function commitTxs(
  store: Store,
  o: {
    chainId: string;
    proposer: Uint8Array;
    txs: Uint8Array[];
    bodies?: Map<string, Uint8Array>;
    /** The consensus log index of the block's entry (default height + 1, after the no-op). */
    raftIndex?: number;
    /** The entry's term: with it the block's stub is written too (what compaction keeps). */
    raftTerm?: number;
    durable?: boolean;
  },
): Promise<{ height: number; hashes: string[]; blockBytes: Uint8Array; kept: Uint8Array[] }> {
  const head = store.head();
  const bodies = o.bodies ?? new Map<string, Uint8Array>();
  const height = head.height + 1;
  const time = head.time + 1000;
  const b = await BlockBuilder.open(store.state, { height, time, payloads: bodies });
  const hashes: string[] = [];
  for (const t of o.txs) {
    const r = await b.add(t);
    if (r === 'full') throw new Error('block full: commit fewer transactions at once');
    if (!r.ok) throw new Error(`${r.kind} refused: ${r.code} ${r.message}`);
    hashes.push(r.hash);
  }
  const result = b.finish(head.stateHash);
  const header = {
    chainId: o.chainId,
    height,
    prevHash: head.hash,
    term: 1,
    proposer: publicKeyOf(o.proposer),
    time,
    txCount: b.txs.length,
    txRoot: txRootOf(b.txs),
    stateHash: result.stateHash,
  };
  const block = signBlock(header, b.txs, o.proposer);
  const keep = new Map([...bodies].filter(([h]) => result.payloads.referenced.includes(h)));
  const blockBytes = encodeBlock(block);
  await store.commitBlock({
    blockBytes,
    header,
    hash: blockHash(header),
    height,
    stateHash: result.stateHash,
    time,
    receipts: result.receipts,
    writes: result.writes,
    payloads: keep,
    erased: result.payloads.erased,
    raftIndex: o.raftIndex ?? height + 1,
    ...(o.raftTerm !== undefined ? { raftTerm: o.raftTerm } : {}),
    ...(o.durable !== undefined ? { durable: o.durable } : {}),
  });
  return { height, hashes, blockBytes, kept: [...keep.values()] };
}

/** Applies `txs` as the next block and commits it; returns the block's height. */
export async function commitNext(
  store: Store,
  keys: ReturnType<typeof testKeys>,
  txs: Uint8Array[],
  payloads: Uint8Array[] = [],
): Promise<number> {
  const bodies = new Map(payloads.map((p) => [toHex(sha256(p)), p]));
  const { height } = await commitTxs(store, {
    chainId: CHAIN_ID,
    proposer: keys.node,
    txs,
    bodies,
  });
  return height;
}

/** A small chain: block 1 registers a hospital and a patient (with a payload), then hospitals. */
export async function buildChain(store: Store, keys: ReturnType<typeof testKeys>, blocks: number) {
  const profile = utf8('sealed profile bytes (opaque to the store)');
  await commitNext(
    store,
    keys,
    [hospitalTx(keys.admin, 0, 'h0'), patientTx(keys.patient, profile)],
    [profile],
  );
  for (let i = 1; i < blocks; i++) {
    await commitNext(store, keys, [
      hospitalTx(keys.admin, 2 * i - 1, `h${i}a`),
      hospitalTx(keys.admin, 2 * i, `h${i}b`),
    ]);
  }
  return { profile };
}
