/**
 * What catch-up sync checks before anything it fetched is persisted. `checkEntries` (pure): the
 * entries continue the log where this node stands (indexes, terms), a no-op is empty, a config
 * change decodes, and every block decodes, names its entry's term, follows the previous block's
 * height and hash, is signed by its proposer, the proposer is a voter (where the entry stands or
 * where its term began) and one term has one proposer. `executeBlocks` then runs the blocks
 * against the committed state without writing (applyBlock throws STATE_MISMATCH unless each
 * reproduces its header's state hash). A failure names the index and why: the batch is the
 * serving peer's fault, and the fetcher asks another.
 */
import type { Entry } from '@ehr/consensus';
import { decodeConfChange } from '@ehr/consensus';
import { blockHash, EhrError, equalBytes, toHex, verifyBlockSignature } from '@ehr/core';
import { applyBlock, type BlockResult, Overlay, type StateReader } from '@ehr/ledger';
import { type BlockEntry, decodeBlockEntry } from './block-entry.ts';
import { applyWrites } from './proposer.ts';

/** Where the log stands before the next entry (carried from batch to batch). */
export interface SyncCursor {
  /** Raft index the next entry must have. */
  index: number;
  /** Term of the entry before it (0 before the first). */
  term: number;
  /** Height and hash of the last block before it. */
  height: number;
  hash: Uint8Array;
  /** Voters in effect at `index`. */
  voters: string[];
  /** Voters in effect where each term seen began, and the proposer of each term's blocks. */
  termVoters: Map<number, string[]>;
  termProposer: Map<number, string>;
}

export interface CheckedBlock {
  index: number;
  entry: BlockEntry;
  hash: Uint8Array;
}

export function syncError(index: number, why: string): EhrError {
  return new EhrError('SYNC_BAD_ENTRY', `served entry ${index} refused: ${why}`, { index });
}

/** Checks a batch; returns its blocks and the cursor after it (the input cursor is not changed). */
export function checkEntries(
  entries: Entry[],
  cursor: SyncCursor,
): { blocks: CheckedBlock[]; next: SyncCursor } {
  const c: SyncCursor = {
    ...cursor,
    voters: [...cursor.voters],
    termVoters: new Map(cursor.termVoters),
    termProposer: new Map(cursor.termProposer),
  };
  if (!c.termVoters.has(c.term)) c.termVoters.set(c.term, [...c.voters]);
  const blocks: CheckedBlock[] = [];
  for (const e of entries) {
    if (e.index !== c.index) throw syncError(e.index, `expected index ${c.index}`);
    if (e.term < c.term) throw syncError(e.index, `term ${e.term} is below the previous ${c.term}`);
    if (e.term > c.term && !c.termVoters.has(e.term)) c.termVoters.set(e.term, [...c.voters]);
    if (e.type === 'noop') {
      if (e.data.length !== 0) throw syncError(e.index, 'a no-op entry carries data');
    } else if (e.type === 'config') {
      let cc: ReturnType<typeof decodeConfChange>;
      try {
        cc = decodeConfChange(e.data);
      } catch (err) {
        throw syncError(e.index, `config change does not decode: ${(err as Error).message}`);
      }
      if (cc.op === 'promote' && !c.voters.includes(cc.node)) c.voters.push(cc.node);
      if (cc.op === 'remove') c.voters = c.voters.filter((v) => v !== cc.node);
    } else {
      blocks.push(checkBlock(e, c));
    }
    c.index = e.index + 1;
    c.term = e.term;
  }
  return { blocks, next: c };
}

function checkBlock(e: Entry, c: SyncCursor): CheckedBlock {
  let entry: BlockEntry;
  try {
    entry = decodeBlockEntry(e.data);
  } catch (err) {
    throw syncError(e.index, `block entry does not decode: ${(err as Error).message}`);
  }
  const h = entry.block.header;
  if (h.term !== e.term) throw syncError(e.index, `block names term ${h.term}, entry is ${e.term}`);
  if (h.height !== c.height + 1)
    throw syncError(e.index, `block height ${h.height} does not follow ${c.height}`);
  if (!equalBytes(h.prevHash, c.hash))
    throw syncError(e.index, `block ${h.height} does not link to the previous block`);
  if (!verifyBlockSignature(entry.block))
    throw syncError(e.index, `block ${h.height}: proposer signature does not verify`);
  const proposer = toHex(h.proposer);
  if (!c.voters.includes(proposer) && !c.termVoters.get(e.term)?.includes(proposer))
    throw syncError(
      e.index,
      `block ${h.height} is signed by ${proposer.slice(0, 12)}…, not a validator`,
    );
  const termProposer = c.termProposer.get(e.term);
  if (termProposer !== undefined && termProposer !== proposer)
    throw syncError(e.index, `block ${h.height}: term ${e.term} already has another proposer`);
  c.termProposer.set(e.term, proposer);
  const hash = blockHash(h);
  c.height = h.height;
  c.hash = hash;
  return { index: e.index, entry, hash };
}

/**
 * Executes checked blocks in order on top of `state` (nothing is written), each against the
 * state the previous one left; throws STATE_MISMATCH / BLOCK_INVALID as applyBlock does.
 * Returns the results by block hash (hex) for the apply step, and the last state hash.
 */
export async function executeBlocks(
  state: StateReader,
  blocks: CheckedBlock[],
  prevStateHash: Uint8Array,
): Promise<{ results: Map<string, BlockResult>; stateHash: Uint8Array }> {
  const acc = new Overlay(state);
  const results = new Map<string, BlockResult>();
  let stateHash = prevStateHash;
  for (const b of blocks) {
    let r: BlockResult;
    try {
      r = await applyBlock(acc, b.entry.block, b.entry.payloads, { prevStateHash: stateHash });
    } catch (err) {
      throw new EhrError(
        'SYNC_BAD_ENTRY',
        `served entry ${b.index} refused: ${(err as Error).message}`,
        { index: b.index, code: (err as EhrError).code ?? null },
      );
    }
    applyWrites(acc, r.writes);
    results.set(toHex(b.hash), r);
    stateHash = r.stateHash;
  }
  return { results, stateHash };
}
