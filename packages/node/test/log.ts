/** Builds a real consensus log (no-ops and signed block entries) as a leader would, for sync tests. */
import type { Entry, Message } from '@ehr/consensus';
import {
  type BlockHeader,
  blockHash,
  decodeBlock,
  encodeBlock,
  encodeTx,
  generateSecretKey,
  publicKeyOf,
  sha256,
  signBlock,
  signTx,
  utf8,
} from '@ehr/core';
import {
  type Genesis,
  genesisBlockHash,
  genesisStateHash,
  genesisWrites,
  MapState,
  makeGenesis,
} from '@ehr/ledger';
import { decodeBlockEntry, encodeBlockEntry } from '../src/block-entry.ts';
import { Mempool } from '../src/mempool.ts';
import { type ChainTip, Proposer } from '../src/proposer.ts';

export const CHAIN = 'sync-test';

export interface TestLog {
  genesis: Genesis;
  admin: Uint8Array;
  validator: Uint8Array;
  entries: Entry[];
  /** Height, hash and state hash after the last block. */
  tip: ChainTip;
}

export function hospitalTx(
  admin: Uint8Array,
  nonce: number,
  expires: number,
  chainId = CHAIN,
): Uint8Array {
  return encodeTx(
    signTx(
      {
        chainId,
        author: publicKeyOf(admin),
        nonce,
        kind: 'hospital.register',
        expires,
        payload: {
          id: `h${nonce}`,
          name: `hospital ${nonce}`,
          address: '1 road',
          specializations: ['cardiology'],
          contact: 'desk@example.org',
          nodes: [],
          encryptionKey: sha256(utf8(`h${nonce}`)),
        },
      },
      admin,
    ),
  );
}

/**
 * `blocks` blocks of `txsPerBlock` transactions each, in two terms (a no-op opens each term, as
 * a new leader's does): entries [noop t1, blocks..., noop t2, blocks...].
 */
export async function buildLog(blocks: number, txsPerBlock = 3): Promise<TestLog> {
  const admin = generateSecretKey();
  const validator = generateSecretKey();
  const genesis = makeGenesis({
    chainId: CHAIN,
    genesisTime: 1_700_000_000_000,
    admins: [publicKeyOf(admin)],
    validators: [publicKeyOf(validator)],
  });
  const state = new MapState();
  state.applyWrites(genesisWrites(genesis));
  let tip: ChainTip = {
    height: 0,
    hash: genesisBlockHash(genesis),
    stateHash: genesisStateHash(genesis),
    time: genesis.genesisTime,
  };
  const mempool = new Mempool(
    CHAIN,
    { maxTxs: 100_000, maxBytes: 1 << 30, maxPerAccount: 100_000, maxTxBytes: 65536 },
    async () => 0,
  );
  let clock = genesis.genesisTime;
  const proposer = new Proposer({
    chainId: CHAIN,
    secretKey: validator,
    committedState: state,
    committedTip: () => tip,
    mempool,
    verified: { has: () => false },
    maxBlockTxs: txsPerBlock,
    maxBlockBytes: 1 << 20,
    maxBlockContentBytes: 1 << 22,
    now: () => (clock += 10),
  });
  for (let n = 0; n < blocks * txsPerBlock; n++)
    await mempool.add(hospitalTx(admin, n, genesis.genesisTime + 10 * 60_000), genesis.genesisTime);
  const entries: Entry[] = [];
  const noop = (term: number) =>
    entries.push({ index: entries.length + 1, term, type: 'noop', data: new Uint8Array(0) });
  for (let b = 0; b < blocks; b++) {
    const term = b < blocks / 2 ? 1 : 2;
    if (b === 0 || (term === 2 && entries.at(-1)!.term === 1)) noop(term);
    const { built } = await proposer.build(term);
    if (!built) throw new Error('test block not built');
    entries.push({ index: entries.length + 1, term, type: 'block', data: built.entry });
    proposer.committed(built.block.header.height, built.hash);
    state.applyWrites(built.result.writes);
    for (const t of built.included) mempool.remove(t.hash);
    const h = built.block.header;
    tip = { height: h.height, hash: blockHash(h), stateHash: h.stateHash, time: h.time };
  }
  return { genesis, admin, validator, entries, tip };
}

/** The same entry with its block's header changed and signed again by `signer`. */
export function resign(
  e: Entry,
  change: (h: BlockHeader) => BlockHeader,
  signer: Uint8Array,
): Entry {
  const entry = decodeBlockEntry(e.data);
  const header = change({ ...entry.block.header, proposer: publicKeyOf(signer) });
  const block = signBlock(header, entry.block.txs, signer);
  return { ...e, data: encodeBlockEntry(encodeBlock(block), entry.payloads.values()) };
}

/** The same entry with one byte of its first transaction flipped (header and signature kept). */
export function tamperTx(e: Entry): Entry {
  const entry = decodeBlockEntry(e.data);
  const txs = entry.block.txs.map((t) => t.slice());
  txs[0]![Math.floor(txs[0]!.length / 2)]! ^= 0x01;
  const block = { ...entry.block, txs };
  // Round-trip to be sure it still decodes as a block.
  decodeBlock(encodeBlock(block));
  return { ...e, data: encodeBlockEntry(encodeBlock(block), entry.payloads.values()) };
}

/** An append message as a leader sends it: `entries` after `index` (at `logTerm`), in `term`. */
export function appendMessage(
  m: Pick<Message, 'from' | 'to' | 'term' | 'index' | 'logTerm'>,
  entries: Entry[],
): Message {
  return {
    type: 'append',
    ...m,
    entries,
    commit: 0,
    reject: false,
    hintIndex: 0,
    hintTerm: 0,
    transfer: false,
    snapshot: null,
  };
}
